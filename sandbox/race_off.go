//go:build !race

package sandbox

// launcherEnv is the environment of a launcher: empty, so that nothing of
// the server's reaches a task through it (see race.go for race builds).
var launcherEnv = []string{}
