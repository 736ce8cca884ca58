//go:build race

package sandbox

// launcherEnv is the environment of a launcher. Built with the race
// detector (the tests), a Go program sleeps a second at exit so that other
// threads can report races; a launcher exits after every task and at every
// shutdown, so the sleep would add a second to each. Without the race
// detector the launcher's environment is empty (race_off.go).
var launcherEnv = []string{"GORACE=atexit_sleep_ms=0"}
