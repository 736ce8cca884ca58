package compat

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestJobPermissions drives job permissions through the SDK's two ways
// (the generic Permissions service, as Terraform's databricks_permissions
// does, and Jobs.SetPermissions) and checks that they take effect.
func TestJobPermissions(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	_, viewerToken := env.createUser(t, "viewer@example.com")
	_, runnerToken := env.createUser(t, "runner@example.com")
	viewer, runner := env.client(t, viewerToken), env.client(t, runnerToken)
	nb := "/Shared/perms"
	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite(nb, "print(1)\n")), "Import")
	created, err := w.Jobs.Create(ctx, jobs.CreateJob{Name: "perms", Tasks: []jobs.Task{{TaskKey: "t", NotebookTask: &jobs.NotebookTask{NotebookPath: nb}}}})
	must(t, err, "Create")
	id := idString(created.JobId)

	// Before any grant the others do not see the job.
	expectIs(t, env.expectAPIError(t, func() error { _, err := viewer.Jobs.GetByJobId(ctx, created.JobId); return err }), apierr.ErrNotFound)

	p, err := w.Permissions.Set(ctx, iam.SetObjectPermissions{RequestObjectType: "jobs", RequestObjectId: id, AccessControlList: []iam.AccessControlRequest{
		{UserName: adminEmail, PermissionLevel: iam.PermissionLevelIsOwner},
		{GroupName: "admins", PermissionLevel: iam.PermissionLevelCanManage},
		{UserName: "viewer@example.com", PermissionLevel: iam.PermissionLevelCanView},
	}})
	must(t, err, "Permissions.Set")
	if p.ObjectId != "/jobs/"+id || p.ObjectType != "job" {
		t.Errorf("object %q %q", p.ObjectId, p.ObjectType)
	}
	var sawAdmins, sawViewer bool
	for _, e := range p.AccessControlList {
		if e.GroupName == "admins" && len(e.AllPermissions) == 1 && e.AllPermissions[0].Inherited && e.AllPermissions[0].PermissionLevel == iam.PermissionLevelCanManage {
			sawAdmins = true
		}
		if e.UserName == "viewer@example.com" && e.AllPermissions[0].PermissionLevel == iam.PermissionLevelCanView {
			sawViewer = true
		}
	}
	if !sawAdmins || !sawViewer {
		t.Errorf("acl %+v", p.AccessControlList)
	}
	_, err = w.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: id, AccessControlList: []jobs.JobAccessControlRequest{
		{UserName: "runner@example.com", PermissionLevel: jobs.JobPermissionLevelCanManageRun},
	}})
	must(t, err, "Jobs.UpdatePermissions")
	jp, err := w.Jobs.GetPermissions(ctx, jobs.GetJobPermissionsRequest{JobId: id})
	must(t, err, "Jobs.GetPermissions")
	if len(jp.AccessControlList) != 4 {
		t.Errorf("after update: %+v", jp.AccessControlList)
	}
	lv, err := w.Permissions.GetPermissionLevels(ctx, iam.GetPermissionLevelsRequest{RequestObjectType: "jobs", RequestObjectId: id})
	must(t, err, "GetPermissionLevels")
	if len(lv.PermissionLevels) != 4 {
		t.Errorf("levels %+v", lv.PermissionLevels)
	}

	// The grants take effect: the viewer reads but may not run; the run
	// manager runs.
	_, err = viewer.Jobs.GetByJobId(ctx, created.JobId)
	must(t, err, "viewer Get")
	expectIs(t, env.expectAPIError(t, func() error { _, err := viewer.Jobs.RunNow(ctx, jobs.RunNow{JobId: created.JobId}); return err }), apierr.ErrPermissionDenied)
	_, err = runner.Jobs.RunNow(ctx, jobs.RunNow{JobId: created.JobId})
	must(t, err, "runner RunNow")
	expectIs(t, env.expectAPIError(t, func() error {
		return runner.Jobs.Update(ctx, jobs.UpdateJob{JobId: created.JobId, NewSettings: &jobs.JobSettings{Name: "x"}})
	}), apierr.ErrPermissionDenied)
}

// TestObjectPermissions sets the permissions of a directory (inherited by
// the notebook in it, as Terraform's databricks_permissions and bundles
// set them) and of a cluster through the SDK.
func TestObjectPermissions(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	_, bobToken := env.createUser(t, "bob@example.com")
	bob := env.client(t, bobToken)
	must(t, w.Workspace.MkdirsByPath(ctx, "/Shared/team"), "Mkdirs")
	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite("/Shared/team/nb", "print(1)\n")), "Import")
	dir, err := w.Workspace.GetStatusByPath(ctx, "/Shared/team")
	must(t, err, "GetStatus dir")
	nb, err := w.Workspace.GetStatusByPath(ctx, "/Shared/team/nb")
	must(t, err, "GetStatus nb")
	_, err = w.Permissions.Set(ctx, iam.SetObjectPermissions{RequestObjectType: "directories", RequestObjectId: idString(dir.ObjectId),
		AccessControlList: []iam.AccessControlRequest{{UserName: "bob@example.com", PermissionLevel: iam.PermissionLevelCanRead}}})
	must(t, err, "Permissions.Set directories")
	p, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "notebooks", RequestObjectId: idString(nb.ObjectId)})
	must(t, err, "Permissions.Get notebooks")
	inherited := false
	for _, e := range p.AccessControlList {
		if e.UserName == "bob@example.com" && e.AllPermissions[0].Inherited && e.AllPermissions[0].PermissionLevel == iam.PermissionLevelCanRead {
			inherited = true
		}
	}
	if !inherited || p.ObjectType != "notebook" {
		t.Errorf("notebook permissions: %+v", p)
	}

	cl, err := w.Clusters.CreateAndWait(ctx, compute.CreateCluster{ClusterName: "perms", SparkVersion: "15.4.x-scala2.12", NodeTypeId: "m5d.large", AutoterminationMinutes: 10})
	must(t, err, "CreateAndWait")
	expectIs(t, env.expectAPIError(t, func() error {
		_, err := bob.Clusters.Restart(ctx, compute.RestartCluster{ClusterId: cl.ClusterId})
		return err
	}), apierr.ErrPermissionDenied)
	_, err = w.Clusters.SetPermissions(ctx, compute.ClusterPermissionsRequest{ClusterId: cl.ClusterId, AccessControlList: []compute.ClusterAccessControlRequest{
		{UserName: "bob@example.com", PermissionLevel: compute.ClusterPermissionLevelCanRestart}}})
	must(t, err, "Clusters.SetPermissions")
	_, err = bob.Clusters.Restart(ctx, compute.RestartCluster{ClusterId: cl.ClusterId})
	must(t, err, "bob Restart")
	lv, err := w.Clusters.GetPermissionLevels(ctx, compute.GetClusterPermissionLevelsRequest{ClusterId: cl.ClusterId})
	must(t, err, "GetPermissionLevels")
	if len(lv.PermissionLevels) != 3 {
		t.Errorf("cluster levels: %+v", lv.PermissionLevels)
	}
}
