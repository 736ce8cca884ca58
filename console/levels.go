package console

import (
	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// levelWords names a permission level as Databricks' UI does ("Can
// Manage Run"); a level it does not know is shown as it is.
func levelWords(level string) string {
	switch level {
	case kiln.LevelCanView:
		return "Can View"
	case kiln.LevelCanManageRun:
		return "Can Manage Run"
	case kiln.LevelCanManage:
		return "Can Manage"
	case kiln.LevelIsOwner:
		return "Is Owner"
	case service.LevelCanRead:
		return "Can Read"
	case service.LevelCanRun:
		return "Can Run"
	case service.LevelCanEdit:
		return "Can Edit"
	case service.LevelCanAttachTo:
		return "Can Attach To"
	case service.LevelCanRestart:
		return "Can Restart"
	}
	return level
}
