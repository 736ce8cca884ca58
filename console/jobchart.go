package console

// The run history of a job's page: the job's latest runs as a bar chart
// of their durations, one bar per run, oldest on the left, coloured by
// result, drawn by job.html as an inline SVG laid out here, on the
// server, with no script (as the task graph, taskgraph.go).
//
// Each bar is a link to its run, named in words (run id, result,
// duration, start), with the same words as its SVG <title> for a pointer;
// a summary under the chart counts the results, and the Runs table below
// lists the same runs as text. A bar's height is its duration relative to
// the longest shown, with a floor so that a run of a few milliseconds is
// still a bar one can point at.

import (
	"fmt"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// Geometry of the chart, in SVG user units (CSS pixels at scale 1).
const (
	chartBarW   = 14
	chartBarGap = 6
	chartPlotH  = 96
	chartMinBar = 3
	chartLeft   = 64 // room for the axis labels
	chartRight  = 8
	chartTop    = 12
	chartBottom = 8
	// chartRuns is how many runs the chart shows at most: one page of
	// runs/list.
	chartRuns = jobsPageSize
)

// chartResult is the colour class of a bar.
type chartResult string

// The chart's results; each has a colour (jobs.css) and a word.
const (
	chartSucceeded chartResult = "succeeded"
	chartFailed    chartResult = "failed"
	chartCanceled  chartResult = "canceled"
	chartRunning   chartResult = "running"
)

// chartLegendEntry is one result of the legend.
type chartLegendEntry struct {
	Result chartResult
	Label  string
}

// chartLegend lists the results in the order the legend shows them.
var chartLegend = []chartLegendEntry{
	{chartSucceeded, "Succeeded"},
	{chartFailed, "Failed"},
	{chartCanceled, "Canceled or skipped"},
	{chartRunning, "Running or waiting"},
}

// chartResultOf maps a run's life cycle and result to its bar's class and
// the word its label uses.
func chartResultOf(lifeCycle, result string) (chartResult, string) {
	switch {
	case lifeCycle == kiln.LifeCycleRunning || lifeCycle == kiln.LifeCycleTerminating:
		return chartRunning, "Running"
	case lifeCycle == "" || !kiln.IsTerminal(lifeCycle):
		return chartRunning, "Waiting"
	}
	switch result {
	case kiln.ResultSuccess:
		return chartSucceeded, "Succeeded"
	case kiln.ResultFailed, kiln.ResultUpstream:
		return chartFailed, "Failed"
	case kiln.ResultTimedOut:
		return chartFailed, "Timed out"
	case kiln.ResultCanceled, kiln.ResultUpstreamCanceled:
		return chartCanceled, "Canceled"
	}
	if lifeCycle == kiln.LifeCycleInternalErr {
		return chartFailed, "Failed"
	}
	return chartCanceled, "Skipped"
}

// chartBar is one laid-out run.
type chartBar struct {
	RunID  int64
	Link   string
	Result chartResult
	// Label names the run in words: its accessible name and its title.
	Label      string
	X, Y, W, H int
}

// runChart is a laid-out chart and the size of its drawing.
type runChart struct {
	Bars          []chartBar
	Width, Height int
	// AxisX is where the plot starts; BaseY is the baseline's height and
	// TopY the longest bar's top, where MaxLabel stands.
	AxisX, BaseY, TopY int
	MaxLabel           string
	// Summary counts the bars by result, in words.
	Summary string
}

// LabelX is where the axis labels end (they are right-aligned).
func (c runChart) LabelX() int { return c.AxisX - 6 }

// PlotH is the height of the plot: each bar's hit area spans it, so that
// a short bar is as easy to point at as a tall one.
func (c runChart) PlotH() int { return c.BaseY - c.TopY }

// EndX is the right end of the axis lines.
func (c runChart) EndX() int { return c.Width - chartRight }

// layoutRunChart lays out runs, given newest first as runs/list returns
// them, at now (an active run's bar grows until it ends). It keeps the
// first chartRuns runs.
func layoutRunChart(runs []*kiln.Run, now time.Time) runChart {
	if len(runs) > chartRuns {
		runs = runs[:chartRuns]
	}
	if len(runs) == 0 {
		return runChart{}
	}
	durs := make([]time.Duration, len(runs))
	var longest time.Duration
	for i, r := range runs {
		// An active run's bar grows until it ends; a finished run without
		// an end (skipped before it started) took nothing.
		end := r.Ended
		if end.IsZero() && !kiln.IsTerminal(r.LifeCycleState) {
			end = now
		}
		if d := end.Sub(r.Created); d > 0 && !r.Created.IsZero() && !end.IsZero() {
			durs[i] = d
		}
		longest = max(longest, durs[i])
	}
	n := len(runs)
	c := runChart{
		Width:  chartLeft + n*chartBarW + (n-1)*chartBarGap + chartRight,
		Height: chartTop + chartPlotH + chartBottom,
		AxisX:  chartLeft, BaseY: chartTop + chartPlotH, TopY: chartTop,
		MaxLabel: humanDuration(longest),
	}
	counts := map[chartResult]int{}
	// Oldest on the left: the newest run is the last bar.
	for i := range n {
		r := runs[n-1-i]
		d := durs[n-1-i]
		h := chartMinBar
		if longest > 0 {
			h = max(chartMinBar, int((int64(d)*chartPlotH+int64(longest)/2)/int64(longest)))
		}
		res, word := chartResultOf(r.LifeCycleState, r.ResultState)
		counts[res]++
		label := fmt.Sprintf("Run %d: %s, %s", r.ID, word, humanDuration(d))
		if res == chartRunning {
			label += " so far"
		}
		if !r.Created.IsZero() {
			label += ", started " + r.Created.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		c.Bars = append(c.Bars, chartBar{
			RunID: r.ID, Link: runPath(r.JobID, r.ID), Result: res, Label: label,
			X: chartLeft + i*(chartBarW+chartBarGap), Y: c.BaseY - h, W: chartBarW, H: h,
		})
	}
	var parts []string
	for _, l := range chartLegend {
		if k := counts[l.Result]; k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, strings.ToLower(l.Label)))
		}
	}
	runsWord := "runs"
	if n == 1 {
		runsWord = "run"
	}
	c.Summary = fmt.Sprintf("The latest %d %s, oldest first: %s. The longest took %s.", n, runsWord, strings.Join(parts, ", "), c.MaxLabel)
	return c
}
