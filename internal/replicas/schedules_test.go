package replicas

import (
	"context"
	"testing"
	"time"
)

// TestScheduleFiresOncePerTickAcrossReplicas runs a per-second schedule
// on three replicas of one database for a bounded window, killing one
// (SIGKILL) midway: every second of the window has exactly one run, none
// twice (every replica polls and races for each tick) and none lost (the
// survivors go on firing).
func TestScheduleFiresOncePerTickAcrossReplicas(t *testing.T) {
	c := runsCluster(t, nil, nil, nil)
	admin := c.adminToken()
	c.importNotebook(c.replicas[0], admin, "/Shared/tick", "print('tick')\n")
	schedule := func(pause string) map[string]any {
		return map[string]any{"quartz_cron_expression": "* * * * * ?", "timezone_id": "UTC", "pause_status": pause}
	}
	m := c.must(c.replicas[0], 200, "POST", "/api/2.1/jobs/create", admin, map[string]any{
		"name": "ticker", "max_concurrent_runs": 1000, "schedule": schedule("UNPAUSED"),
		"tasks": []any{map[string]any{"task_key": "main", "notebook_task": map[string]any{"notebook_path": "/Shared/tick"}}},
	}).json(t)
	job := int64(m["job_id"].(float64))

	time.Sleep(4 * time.Second)
	c.kill(c.replicas[1])
	t.Log("replica 2 killed")
	time.Sleep(4 * time.Second)
	c.must(c.replicas[2], 200, "POST", "/api/2.1/jobs/update", admin, map[string]any{
		"job_id": job, "new_settings": map[string]any{"schedule": schedule("PAUSED")}})

	db := c.db()
	rows, err := db.Query(context.Background(),
		`SELECT scheduled_time, run_type FROM runs WHERE job_id = $1 ORDER BY scheduled_time`, job)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ticks []int64
	for rows.Next() {
		var at int64
		var typ string
		if err := rows.Scan(&at, &typ); err != nil {
			t.Fatal(err)
		}
		if at == 0 || typ != "JOB_RUN" {
			t.Errorf("run of the job without a scheduled time (%d) or of type %s", at, typ)
		}
		ticks = append(ticks, at)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ticks) < 6 {
		t.Fatalf("%d runs in an 8 s window of a per-second schedule", len(ticks))
	}
	for i := 1; i < len(ticks); i++ {
		switch d := ticks[i] - ticks[i-1]; {
		case d == 0:
			t.Errorf("two runs for the tick at %d", ticks[i])
		case d != 1000:
			t.Errorf("ticks lost between %d and %d (%d ms apart)", ticks[i-1], ticks[i], d)
		}
	}
	t.Logf("%d ticks, each fired once, from %s to %s", len(ticks),
		time.UnixMilli(ticks[0]).UTC().Format("15:04:05"), time.UnixMilli(ticks[len(ticks)-1]).UTC().Format("15:04:05"))

	// Paused: no replica fires it any more.
	n := len(ticks)
	time.Sleep(2 * time.Second)
	var after int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM runs WHERE job_id = $1`, job).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != n {
		t.Errorf("%d runs queued after the pause", after-n)
	}
}
