package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func TestTaskGraphLayout(t *testing.T) {
	task := func(key string, deps ...string) graphTask { return graphTask{Key: key, DependsOn: deps} }
	tests := []struct {
		name  string
		tasks []graphTask
		// layers names each task's column and row as "key=layer.row".
		layers []string
		// edges are "from>to", in the layout's order.
		edges         []string
		width, height int
	}{
		{name: "Empty"},
		{
			name: "SingleTask", tasks: []graphTask{task("only")},
			layers: []string{"only=0.0"}, width: 184, height: 64,
		},
		{
			name:   "Chain",
			tasks:  []graphTask{task("load", "clean"), task("clean", "extract"), task("extract")},
			layers: []string{"extract=0.0", "clean=1.0", "load=2.0"},
			edges:  []string{"extract>clean", "clean>load"},
			width:  2*8 + 3*168 + 2*56, height: 64,
		},
		{
			name:   "Diamond",
			tasks:  []graphTask{task("d", "c", "b"), task("c", "a"), task("b", "a"), task("a")},
			layers: []string{"a=0.0", "b=1.0", "c=1.1", "d=2.0"},
			edges:  []string{"a>b", "a>c", "b>d", "c>d"},
			width:  2*8 + 3*168 + 2*56, height: 2*8 + 2*48 + 16,
		},
		{
			// The longest path decides: z hangs after y, not beside x.
			name:   "LongestPath",
			tasks:  []graphTask{task("x"), task("y", "x"), task("z", "x", "y")},
			layers: []string{"x=0.0", "y=1.0", "z=2.0"},
			edges:  []string{"x>y", "x>z", "y>z"},
		},
		{
			name:   "Disconnected",
			tasks:  []graphTask{task("solo"), task("b2", "b1"), task("b1"), task("alone")},
			layers: []string{"alone=0.0", "b1=0.1", "solo=0.2", "b2=1.0"},
			edges:  []string{"b1>b2"},
			height: 2*8 + 3*48 + 2*16,
		},
		{
			// Unknown keys, self-dependencies and repeats are dropped;
			// a repeated task key keeps its first task.
			name:   "Sloppy",
			tasks:  []graphTask{task("a", "a", "ghost"), task("b", "a", "a"), task("a", "b")},
			layers: []string{"a=0.0", "b=1.0"},
			edges:  []string{"a>b"},
		},
		{
			// Cannot come from the API; it must end all the same, with
			// every edge drawn.
			name:   "Cycle",
			tasks:  []graphTask{task("a", "c"), task("b", "a"), task("c", "b")},
			layers: []string{"b=0.0", "c=1.0", "a=2.0"},
			edges:  []string{"a>b", "b>c", "c>a"},
		},
		{
			name:   "CycleBehindARoot",
			tasks:  []graphTask{task("root"), task("p", "root", "q"), task("q", "p")},
			layers: []string{"q=0.0", "root=0.1", "p=1.0"},
			edges:  []string{"p>q", "q>p", "root>p"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := layoutTaskGraph(tt.tasks)
			var layers, edges []string
			for _, n := range g.Nodes {
				layers = append(layers, fmt.Sprintf("%s=%d.%d", n.Key, n.Layer, n.Row))
				if n.W != graphNodeW || n.H != graphNodeH {
					t.Errorf("%s is %dx%d", n.Key, n.W, n.H)
				}
				if n.X < 0 || n.Y < 0 || n.X+n.W > g.Width || n.Y+n.H > g.Height {
					t.Errorf("%s at (%d,%d) is outside the %dx%d drawing", n.Key, n.X, n.Y, g.Width, g.Height)
				}
			}
			for _, e := range g.Edges {
				edges = append(edges, e.From+">"+e.To)
				if !strings.HasPrefix(e.Path, "M") || strings.Count(e.Path, " ") != 7 {
					t.Errorf("edge %s>%s has the path %q", e.From, e.To, e.Path)
				}
			}
			if got, want := strings.Join(layers, " "), strings.Join(tt.layers, " "); got != want {
				t.Errorf("nodes %q, want %q", got, want)
			}
			if got, want := strings.Join(edges, " "), strings.Join(tt.edges, " "); got != want {
				t.Errorf("edges %q, want %q", got, want)
			}
			if tt.width != 0 && g.Width != tt.width {
				t.Errorf("width %d, want %d", g.Width, tt.width)
			}
			if tt.height != 0 && g.Height != tt.height {
				t.Errorf("height %d, want %d", g.Height, tt.height)
			}
			// The same input lays out the same way, whatever its order.
			rev := append([]graphTask(nil), tt.tasks...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			if tt.name != "Sloppy" { // its duplicate key makes order matter
				if again := layoutTaskGraph(rev); fmt.Sprint(again.Edges) != fmt.Sprint(g.Edges) {
					t.Errorf("reversed input: edges %v, want %v", again.Edges, g.Edges)
				}
			}
		})
	}
}

// TestTaskGraphGeometry checks where boxes and arrows go: columns left to
// right, shorter columns centred, arrows from a box's right side to just
// before the next one's left side.
func TestTaskGraphGeometry(t *testing.T) {
	g := layoutTaskGraph([]graphTask{{Key: "a"}, {Key: "b", DependsOn: []string{"a"}}, {Key: "c", DependsOn: []string{"a"}}})
	at := map[string]graphNode{}
	for _, n := range g.Nodes {
		at[n.Key] = n
	}
	if a, b, c := at["a"], at["b"], at["c"]; a.X != 8 || b.X != 8+168+56 || c.X != b.X || a.Y != 8+(48+16)/2 || b.Y != 8 || c.Y != 8+48+16 {
		t.Errorf("boxes at a(%d,%d) b(%d,%d) c(%d,%d)", a.X, a.Y, b.X, b.Y, c.X, c.Y)
	}
	if want := fmt.Sprintf("M176 64 C%d 64 %d 32 224 32", (176+224)/2, (176+224)/2); g.Edges[0].Path != want {
		t.Errorf("a>b is %q, want %q", g.Edges[0].Path, want)
	}
	if n := at["a"]; n.LabelX() != n.X+84 || n.LabelY() != n.Y+20 || n.StateY() != n.Y+38 {
		t.Errorf("label at (%d,%d), state at y %d", n.LabelX(), n.LabelY(), n.StateY())
	}
	if got := shortLabel("a_rather_long_task_key_indeed", 20); got != "a_rather_long_task_…" {
		t.Errorf("shortLabel: %q", got)
	}
	if got := shortLabel("ünïcode", 20); got != "ünïcode" {
		t.Errorf("shortLabel: %q", got)
	}
}

// TestTaskGraphBig lays out a long chain and a wide fan quickly: no
// quadratic walk, no deep recursion.
func TestTaskGraphBig(t *testing.T) {
	var chain, fan []graphTask
	for i := range 1000 {
		k := fmt.Sprintf("t%04d", i)
		ct := graphTask{Key: k}
		if i > 0 {
			ct.DependsOn = []string{fmt.Sprintf("t%04d", i-1)}
		}
		chain = append(chain, ct)
		fan = append(fan, graphTask{Key: k, DependsOn: []string{"t0000"}})
	}
	start := time.Now()
	g := layoutTaskGraph(chain)
	if last := g.Nodes[len(g.Nodes)-1]; last.Key != "t0999" || last.Layer != 999 || len(g.Edges) != 999 {
		t.Errorf("chain: last node %s in layer %d, %d edges", last.Key, last.Layer, len(g.Edges))
	}
	if g := layoutTaskGraph(fan); len(g.Edges) != 999 || g.Nodes[len(g.Nodes)-1].Row != 998 {
		t.Errorf("fan: %d edges", len(g.Edges))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("laying out 2000 tasks took %v", d)
	}
}

func TestTaskGraphStates(t *testing.T) {
	for _, tt := range []struct {
		life, result string
		state        graphState
		label        string
	}{
		{"", "", graphPending, "Pending"},
		{kiln.LifeCycleQueued, "", graphPending, "Pending"},
		{kiln.LifeCycleBlocked, "", graphPending, "Pending"},
		{kiln.LifeCycleRunning, "", graphRunning, "Running"},
		{kiln.LifeCycleWaitingForRetry, "", graphRunning, "Retrying"},
		{kiln.LifeCycleTerminated, kiln.ResultSuccess, graphSucceeded, "Succeeded"},
		{kiln.LifeCycleTerminated, kiln.ResultFailed, graphFailed, "Failed"},
		{kiln.LifeCycleTerminated, kiln.ResultTimedOut, graphFailed, "Timed out"},
		{kiln.LifeCycleInternalErr, "", graphFailed, "Failed"},
		{kiln.LifeCycleTerminated, kiln.ResultCanceled, graphSkipped, "Canceled"},
		{kiln.LifeCycleSkipped, kiln.ResultUpstream, graphSkipped, "Upstream failed"},
		{kiln.LifeCycleSkipped, "", graphSkipped, "Skipped"},
	} {
		if s, l := graphStateOf(tt.life, tt.result); s != tt.state || l != tt.label {
			t.Errorf("%s/%s: %s %q, want %s %q", tt.life, tt.result, s, l, tt.state, tt.label)
		}
	}
}
