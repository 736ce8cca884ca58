package console

// The task graph of a run's page: the run's tasks as boxes and their
// depends_on edges as arrows, laid out here and drawn by run.html as an
// inline SVG, on the server, with no script.
//
// The layout is layered, left to right: a task's layer (its column) is the
// longest path to it from a task that depends on nothing, so every edge
// points rightwards; within a layer the tasks are ordered by task key, so
// the picture does not move between refreshes of a live run. The API
// refuses cycles, but the layout must not trust that: an edge that would
// close one is ignored for layering (and still drawn), so a cycle costs a
// backward arrow, never a loop.

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

// Geometry of the graph, in SVG user units (CSS pixels at scale 1).
const (
	graphNodeW   = 168
	graphNodeH   = 48
	graphColGap  = 56
	graphRowGap  = 16
	graphMargin  = 8
	graphArrow   = 8  // the arrowhead's length: edges stop short by it
	graphLabelMx = 20 // runes of the task key shown in a box
)

// graphState is the colour class of a task in the graph.
type graphState string

// The graph's states; each has a colour (jobs.css) and a word.
const (
	graphPending   graphState = "pending"
	graphRunning   graphState = "running"
	graphSucceeded graphState = "succeeded"
	graphFailed    graphState = "failed"
	graphSkipped   graphState = "skipped"
)

// graphLegendEntry is one state of the legend.
type graphLegendEntry struct {
	State graphState
	Label string
}

// graphLegend lists the states in the order the legend shows them.
var graphLegend = []graphLegendEntry{
	{graphPending, "Pending"},
	{graphRunning, "Running"},
	{graphSucceeded, "Succeeded"},
	{graphFailed, "Failed"},
	{graphSkipped, "Skipped or canceled"},
}

// graphStateOf maps a task's life cycle and result to its graph state
// and the word shown in its box.
func graphStateOf(lifeCycle, result string) (graphState, string) {
	switch lifeCycle {
	case "", kiln.LifeCyclePending, kiln.LifeCycleQueued, kiln.LifeCycleBlocked:
		return graphPending, "Pending"
	case kiln.LifeCycleRunning, kiln.LifeCycleTerminating:
		return graphRunning, "Running"
	case kiln.LifeCycleWaitingForRetry:
		return graphRunning, "Retrying"
	case kiln.LifeCycleInternalErr:
		return graphFailed, "Failed"
	}
	switch result {
	case kiln.ResultSuccess:
		return graphSucceeded, "Succeeded"
	case kiln.ResultFailed:
		return graphFailed, "Failed"
	case kiln.ResultTimedOut:
		return graphFailed, "Timed out"
	case kiln.ResultUpstream:
		return graphSkipped, "Upstream failed"
	case kiln.ResultUpstreamCanceled:
		return graphSkipped, "Upstream canceled"
	case kiln.ResultCanceled:
		return graphSkipped, "Canceled"
	case kiln.ResultExcluded:
		return graphSkipped, "Excluded"
	}
	return graphSkipped, "Skipped"
}

// graphTask is one task given to the layout.
type graphTask struct {
	// ID is the task run's, for the box's element id.
	ID        int64
	Key       string
	DependsOn []string
	State     graphState
	// StateLabel is the state in words; Link leads to the task's output,
	// and Selected marks the task whose output the page shows.
	StateLabel, Link string
	Selected         bool
}

// graphNode is a laid-out task: its box's top-left corner and size.
type graphNode struct {
	graphTask
	Layer, Row int
	X, Y, W, H int
	// Label is the task key as the box shows it, shortened if long.
	Label string
}

// LabelX and LabelY place the key in the box; StateY the state below it.
func (n graphNode) LabelX() int { return n.X + n.W/2 }

// LabelY is the baseline of the key.
func (n graphNode) LabelY() int { return n.Y + 20 }

// StateY is the baseline of the state word.
func (n graphNode) StateY() int { return n.Y + 38 }

// graphEdge is one depends_on edge, From the dependency To the task.
type graphEdge struct {
	From, To string
	// Path is the SVG path data of the arrow.
	Path string
}

// taskGraph is a laid-out graph and the size of its drawing.
type taskGraph struct {
	Nodes         []graphNode
	Edges         []graphEdge
	Width, Height int
}

// layoutTaskGraph lays out tasks. Duplicate keys keep the first task;
// dependencies on keys that are not in tasks are dropped. It never loops:
// each task is visited once, whatever the edges.
func layoutTaskGraph(tasks []graphTask) taskGraph {
	index := map[string]int{}
	var uniq []graphTask
	for _, t := range tasks {
		if _, dup := index[t.Key]; dup {
			continue
		}
		index[t.Key] = len(uniq)
		uniq = append(uniq, t)
	}
	if len(uniq) == 0 {
		return taskGraph{}
	}
	// deps[i] are the indexes of task i's known dependencies, once each.
	deps := make([][]int, len(uniq))
	for i, t := range uniq {
		seen := map[int]bool{}
		for _, k := range t.DependsOn {
			if j, ok := index[k]; ok && j != i && !seen[j] {
				seen[j] = true
				deps[i] = append(deps[i], j)
			}
		}
	}

	// Longest path from a root, by depth-first search in key order. A
	// dependency still on the stack closes a cycle: it is skipped.
	order := make([]int, len(uniq))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return uniq[order[a]].Key < uniq[order[b]].Key })
	const (
		unvisited = iota
		onStack
		done
	)
	mark := make([]int, len(uniq))
	layer := make([]int, len(uniq))
	// An explicit stack: a chain of a thousand tasks must not grow the
	// goroutine stack a thousand frames deep for nothing.
	type frame struct{ node, next int }
	for _, root := range order {
		if mark[root] != unvisited {
			continue
		}
		stack := []frame{{node: root}}
		mark[root] = onStack
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(deps[f.node]) {
				d := deps[f.node][f.next]
				f.next++
				switch mark[d] {
				case unvisited:
					mark[d] = onStack
					stack = append(stack, frame{node: d})
				case done:
					layer[f.node] = max(layer[f.node], layer[d]+1)
				}
				continue
			}
			mark[f.node] = done
			n := f.node
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := stack[len(stack)-1].node
				layer[p] = max(layer[p], layer[n]+1)
			}
		}
	}

	// Columns, each ordered by key.
	var cols [][]int
	for _, i := range order {
		for len(cols) <= layer[i] {
			cols = append(cols, nil)
		}
		cols[layer[i]] = append(cols[layer[i]], i)
	}
	rows := 0
	for _, col := range cols {
		rows = max(rows, len(col))
	}
	g := taskGraph{
		Width:  2*graphMargin + len(cols)*graphNodeW + (len(cols)-1)*graphColGap,
		Height: 2*graphMargin + rows*graphNodeH + (rows-1)*graphRowGap,
	}
	pos := make([]int, len(uniq)) // index in g.Nodes
	for l, col := range cols {
		// Shorter columns are centred on the tallest.
		top := graphMargin + (rows-len(col))*(graphNodeH+graphRowGap)/2
		for r, i := range col {
			pos[i] = len(g.Nodes)
			g.Nodes = append(g.Nodes, graphNode{
				graphTask: uniq[i], Layer: l, Row: r,
				X: graphMargin + l*(graphNodeW+graphColGap), Y: top + r*(graphNodeH+graphRowGap),
				W: graphNodeW, H: graphNodeH, Label: shortLabel(uniq[i].Key, graphLabelMx),
			})
		}
	}
	// Edges in the order of their targets, then of their dependencies.
	for _, n := range g.Nodes {
		i := index[n.Key]
		ds := append([]int(nil), deps[i]...)
		sort.Slice(ds, func(a, b int) bool { return uniq[ds[a]].Key < uniq[ds[b]].Key })
		for _, d := range ds {
			from := g.Nodes[pos[d]]
			g.Edges = append(g.Edges, graphEdge{From: from.Key, To: n.Key, Path: edgePath(from, n)})
		}
	}
	return g
}

// edgePath is a curve from the middle of from's right side to just
// before the middle of to's left side, where the arrowhead ends it.
func edgePath(from, to graphNode) string {
	x1, y1 := from.X+from.W, from.Y+from.H/2
	x2, y2 := to.X-graphArrow, to.Y+to.H/2
	if x2 <= x1 {
		// A backward edge (only a cycle makes one): loop below the boxes.
		below := max(from.Y+from.H, to.Y+to.H) + graphRowGap/2
		return fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+graphColGap, below, x2-graphColGap, below, x2, y2)
	}
	mid := (x1 + x2) / 2
	return fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
}

// shortLabel keeps the first n runes of s, marking a cut with "…".
func shortLabel(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
