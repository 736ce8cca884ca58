package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// TestRunChartLayout checks the bars of a job's run history: oldest on
// the left, heights relative to the longest run with a floor, colours by
// result, a link and words per bar, and the summary.
func TestRunChartLayout(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	run := func(id int64, life, result string, ago, took time.Duration) *kiln.Run {
		r := &kiln.Run{ID: id, JobID: 7, LifeCycleState: life, ResultState: result, Created: now.Add(-ago)}
		if took > 0 {
			r.Ended = r.Created.Add(took)
		}
		return r
	}
	T := kiln.LifeCycleTerminated
	// Newest first, as runs/list returns them.
	runs := []*kiln.Run{
		run(16, kiln.LifeCycleRunning, "", 10*time.Second, 0),
		run(15, kiln.LifeCyclePending, "", 0, 0),
		run(14, T, kiln.ResultCanceled, time.Hour, 5*time.Second),
		run(13, T, kiln.ResultFailed, 2*time.Hour, 20*time.Second),
		run(12, kiln.LifeCycleInternalErr, "", 3*time.Hour, time.Millisecond),
		run(11, T, kiln.ResultSuccess, 4*time.Hour, 40*time.Second),
		run(10, kiln.LifeCycleSkipped, kiln.ResultUpstream, 5*time.Hour, 0),
	}
	c := layoutRunChart(runs, now)
	want := []struct {
		id     int64
		result chartResult
		h      int
		label  string
	}{
		// Skipped: it never ran, so it has no end and took nothing.
		{10, chartFailed, chartMinBar, "Run 10: Failed, 0ms, started 2026-05-01 07:00:00 UTC"},
		{11, chartSucceeded, 96, "Run 11: Succeeded, 40s, started 2026-05-01 08:00:00 UTC"},
		{12, chartFailed, chartMinBar, "Run 12: Failed, 1ms, started 2026-05-01 09:00:00 UTC"},
		{13, chartFailed, 48, "Run 13: Failed, 20s, started 2026-05-01 10:00:00 UTC"},
		{14, chartCanceled, 12, "Run 14: Canceled, 5s, started 2026-05-01 11:00:00 UTC"},
		{15, chartRunning, chartMinBar, "Run 15: Waiting, 0ms so far, started 2026-05-01 12:00:00 UTC"},
		{16, chartRunning, 24, "Run 16: Running, 10s so far, started 2026-05-01 11:59:50 UTC"},
	}
	if len(c.Bars) != len(want) {
		t.Fatalf("%d bars, want %d", len(c.Bars), len(want))
	}
	for i, w := range want {
		b := c.Bars[i]
		if b.RunID != w.id || b.Result != w.result || b.H != w.h || b.Label != w.label {
			t.Errorf("bar %d: run %d %s h=%d %q, want run %d %s h=%d %q", i, b.RunID, b.Result, b.H, b.Label, w.id, w.result, w.h, w.label)
		}
		if b.Link != fmt.Sprintf("/jobs/7/runs/%d", w.id) {
			t.Errorf("bar %d links to %s", i, b.Link)
		}
		if b.X != chartLeft+i*(chartBarW+chartBarGap) || b.W != chartBarW || b.Y+b.H != c.BaseY {
			t.Errorf("bar %d at x=%d y=%d w=%d h=%d", i, b.X, b.Y, b.W, b.H)
		}
	}
	if c.Width != chartLeft+7*chartBarW+6*chartBarGap+chartRight || c.Height != chartTop+chartPlotH+chartBottom || c.TopY != chartTop {
		t.Errorf("the drawing is %dx%d", c.Width, c.Height)
	}
	if c.PlotH() != chartPlotH || c.EndX() != c.Width-chartRight || c.LabelX() != chartLeft-6 {
		t.Errorf("plot %d high, axis to %d, labels at %d", c.PlotH(), c.EndX(), c.LabelX())
	}
	if c.MaxLabel != "40s" {
		t.Errorf("the axis says %q", c.MaxLabel)
	}
	if want := "The latest 7 runs, oldest first: 1 succeeded, 3 failed, 1 canceled or skipped, 2 running or waiting. The longest took 40s."; c.Summary != want {
		t.Errorf("summary %q, want %q", c.Summary, want)
	}
}

// TestRunChartBounds: no runs draw nothing; more than a page keeps the
// newest; runs that all took nothing are floor-high bars.
func TestRunChartBounds(t *testing.T) {
	if c := layoutRunChart(nil, time.Now()); len(c.Bars) != 0 || c.Width != 0 {
		t.Errorf("no runs: %+v", c)
	}
	now := time.Now()
	var runs []*kiln.Run
	for i := range 40 {
		runs = append(runs, &kiln.Run{ID: int64(100 - i), JobID: 1, LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess, Created: now, Ended: now})
	}
	c := layoutRunChart(runs, now)
	if len(c.Bars) != chartRuns || c.Bars[len(c.Bars)-1].RunID != 100 || c.Bars[0].RunID != 100-chartRuns+1 {
		t.Fatalf("%d bars, from run %d to %d", len(c.Bars), c.Bars[0].RunID, c.Bars[len(c.Bars)-1].RunID)
	}
	for _, b := range c.Bars {
		if b.H != chartMinBar {
			t.Errorf("run %d: height %d", b.RunID, b.H)
		}
	}
	if !strings.HasPrefix(c.Summary, fmt.Sprintf("The latest %d runs, oldest first: %d succeeded.", chartRuns, chartRuns)) {
		t.Errorf("summary %q", c.Summary)
	}
}

func TestChartResults(t *testing.T) {
	for _, tt := range []struct {
		life, result string
		res          chartResult
		word         string
	}{
		{"", "", chartRunning, "Waiting"},
		{kiln.LifeCycleQueued, "", chartRunning, "Waiting"},
		{kiln.LifeCycleRunning, "", chartRunning, "Running"},
		{kiln.LifeCycleTerminating, "", chartRunning, "Running"},
		{kiln.LifeCycleTerminated, kiln.ResultSuccess, chartSucceeded, "Succeeded"},
		{kiln.LifeCycleTerminated, kiln.ResultFailed, chartFailed, "Failed"},
		{kiln.LifeCycleTerminated, kiln.ResultTimedOut, chartFailed, "Timed out"},
		{kiln.LifeCycleInternalErr, "", chartFailed, "Failed"},
		{kiln.LifeCycleTerminated, kiln.ResultCanceled, chartCanceled, "Canceled"},
		{kiln.LifeCycleSkipped, "", chartCanceled, "Skipped"},
	} {
		if r, w := chartResultOf(tt.life, tt.result); r != tt.res || w != tt.word {
			t.Errorf("%s/%s: %s %q, want %s %q", tt.life, tt.result, r, w, tt.res, tt.word)
		}
	}
}
