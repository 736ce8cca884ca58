package service

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func TestScheduleParse(t *testing.T) {
	for _, c := range []struct {
		name, settings string
		wantErr        string // "" valid; else a part of the message
		active         bool
	}{
		{"EverySecond", `{"schedule":{"quartz_cron_expression":"* * * * * ?","timezone_id":"UTC"}}`, "", true},
		{"WeekdaysNoon", `{"schedule":{"quartz_cron_expression":"0 0 12 ? * MON-FRI","timezone_id":"Europe/Paris"}}`, "", true},
		{"LastFriday", `{"schedule":{"quartz_cron_expression":"0 15 10 ? * 6L","timezone_id":"America/Los_Angeles"}}`, "", true},
		{"NthWeekday", `{"schedule":{"quartz_cron_expression":"0 0 0 ? * 2#1","timezone_id":"UTC"}}`, "", true},
		{"LastWeekday", `{"schedule":{"quartz_cron_expression":"0 0 0 LW * ?","timezone_id":"UTC"}}`, "", true},
		{"NearestWeekday", `{"schedule":{"quartz_cron_expression":"0 0 0 15W * ?","timezone_id":"UTC"}}`, "", true},
		{"Steps", `{"schedule":{"quartz_cron_expression":"0 0/5 14,18 * * ?","timezone_id":"Asia/Kolkata"}}`, "", true},
		{"Year", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ? 2099","timezone_id":"UTC"}}`, "", true},
		{"SpacesTrimmed", `{"schedule":{"quartz_cron_expression":"  0  0 12 * * ?  ","timezone_id":"UTC"}}`, "", true},
		{"ZoneDefaultsToUTC", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?"}}`, "", true},
		{"EtcZone", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"Etc/GMT+5"}}`, "", true},
		{"Paused", `{"schedule":{"quartz_cron_expression":"* * * * * ?","timezone_id":"UTC","pause_status":"PAUSED"}}`, "", false},
		{"Unpaused", `{"schedule":{"quartz_cron_expression":"* * * * * ?","timezone_id":"UTC","pause_status":"UNPAUSED"}}`, "", true},
		{"None", `{}`, "", false},
		{"Periodic", `{"trigger":{"periodic":{"interval":4,"unit":"HOURS"}}}`, "", true},
		{"PeriodicWeeks", `{"trigger":{"periodic":{"interval":1,"unit":"WEEKS"},"pause_status":"UNPAUSED"}}`, "", true},
		{"PeriodicPaused", `{"trigger":{"periodic":{"interval":1,"unit":"DAYS"},"pause_status":"PAUSED"}}`, "", false},
		{"FileArrivalNeverFires", `{"trigger":{"file_arrival":{"url":"s3://b/"}}}`, "", false},

		{"FiveFields", `{"schedule":{"quartz_cron_expression":"0 12 * * *","timezone_id":"UTC"}}`, "6 or 7", false},
		{"Empty", `{"schedule":{"quartz_cron_expression":"","timezone_id":"UTC"}}`, "is required", false},
		{"SecondOutOfRange", `{"schedule":{"quartz_cron_expression":"61 * * * * ?","timezone_id":"UTC"}}`, "61", false},
		{"DayOfWeekOutOfRange", `{"schedule":{"quartz_cron_expression":"0 0 0 ? * 8","timezone_id":"UTC"}}`, "8", false},
		{"BothDays", `{"schedule":{"quartz_cron_expression":"0 0 12 * * MON","timezone_id":"UTC"}}`, "exactly one of day-of-month and day-of-week", false},
		{"February30th", `{"schedule":{"quartz_cron_expression":"0 0 0 30 2 ?","timezone_id":"UTC"}}`, "day 30 of month 2 never occurs", false},
		{"April31st", `{"schedule":{"quartz_cron_expression":"0 0 0 31 APR ?","timezone_id":"UTC"}}`, "day 31 of month APR never occurs", false},
		{"NeitherDayIsAny", `{"schedule":{"quartz_cron_expression":"0 0 12 ? * ?","timezone_id":"UTC"}}`, "exactly one of", false},
		{"Garbage", `{"schedule":{"quartz_cron_expression":"every day at noon","timezone_id":"UTC"}}`, "Invalid Quartz cron expression", false},
		{"UnknownZone", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"Mars/Olympus_Mons"}}`, "Unknown time zone", false},
		{"LocalZone", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"Local"}}`, "Unknown time zone", false},
		{"PathZone", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"../../etc/passwd"}}`, "Unknown time zone", false},
		{"BadPause", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"UTC","pause_status":"STOPPED"}}`, "pause_status", false},
		{"PeriodicBadUnit", `{"trigger":{"periodic":{"interval":5,"unit":"MINUTES"}}}`, "HOURS, DAYS or WEEKS", false},
		{"PeriodicZeroInterval", `{"trigger":{"periodic":{"interval":0,"unit":"HOURS"}}}`, "interval", false},
		{"ScheduleAndPeriodic", `{"schedule":{"quartz_cron_expression":"0 0 12 * * ?","timezone_id":"UTC"},"trigger":{"periodic":{"interval":1,"unit":"HOURS"}}}`, "not both", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := normalizeSettings([]byte(c.settings))
			if c.wantErr != "" {
				if !kiln.IsCode(err, kiln.EInvalid) || !strings.Contains(kiln.ErrorMessage(err), c.wantErr) {
					t.Fatalf("normalizeSettings = %v, want EInvalid mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("normalizeSettings: %v", err)
			}
			st, _, err := parseSettings([]byte(c.settings), "t")
			if err != nil {
				t.Fatal(err)
			}
			tm, err := parseTimer(st)
			if err != nil || (tm != nil) != c.active {
				t.Fatalf("parseTimer = %v, %v; want active %v", tm, err, c.active)
			}
		})
	}
}

func mustTimer(t *testing.T, settings string) *timer {
	t.Helper()
	st, _, err := parseSettings([]byte(settings), "t")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := parseTimer(st)
	if err != nil || tm == nil {
		t.Fatalf("parseTimer = %v, %v", tm, err)
	}
	return tm
}

func cronTimer(t *testing.T, expr, zone string) *timer {
	return mustTimer(t, `{"schedule":{"quartz_cron_expression":"`+expr+`","timezone_id":"`+zone+`"}}`)
}

func TestScheduleNextFire(t *testing.T) {
	at := func(zone, s string) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name, expr, zone, from string
		want                   []string // successive ticks, in zone
	}{
		{"EverySecond", "* * * * * ?", "UTC", "2026-12-04 10:00:00", []string{"2026-12-04 10:00:01", "2026-12-04 10:00:02"}},
		{"NoonInParis", "0 0 12 * * ?", "Europe/Paris", "2026-12-04 12:00:00", []string{"2026-12-05 12:00:00", "2026-12-06 12:00:00"}},
		{"Weekdays", "0 0 9 ? * MON-FRI", "UTC", "2026-12-04 10:00:00", []string{"2026-12-07 09:00:00", "2026-12-08 09:00:00"}}, // a Friday
		{"QuartzSundayIs1", "0 0 9 ? * 1", "UTC", "2026-12-04 10:00:00", []string{"2026-12-06 09:00:00", "2026-12-13 09:00:00"}},
		{"LastFriday", "0 15 10 ? * 6L", "UTC", "2026-12-01 00:00:00", []string{"2026-12-25 10:15:00", "2027-01-29 10:15:00"}},
		{"SecondMonday", "0 0 0 ? * 2#2", "UTC", "2026-12-01 00:00:00", []string{"2026-12-14 00:00:00", "2027-01-11 00:00:00"}},
		{"LastDay", "0 0 0 L * ?", "UTC", "2027-01-31 12:00:00", []string{"2027-02-28 00:00:00", "2027-03-31 00:00:00"}},
		// go-quartz rolls 31 into the next month's first days; kiln skips
		// such non-ticks.
		{"The31st", "0 0 0 31 * ?", "UTC", "2027-01-31 12:00:00", []string{"2027-03-31 00:00:00", "2027-05-31 00:00:00"}},
		// go-quartz rolls 29 February into 1 March in other years, and 30
		// into 1 March of a leap year; kiln skips both.
		{"February29th", "0 0 0 29 2 ?", "UTC", "2026-12-01 00:00:00", []string{"2028-02-29 00:00:00", "2032-02-29 00:00:00"}},
		{"The30thInALeapYear", "0 0 0 30 * ?", "UTC", "2028-01-30 12:00:00", []string{"2028-03-30 00:00:00", "2028-04-30 00:00:00"}},
		{"Year", "0 0 12 1 1 ? 2030", "UTC", "2026-12-04 00:00:00", []string{"2030-01-01 12:00:00"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tm := cronTimer(t, c.expr, c.zone)
			from := at(c.zone, c.from)
			for _, w := range c.want {
				got, ok := tm.after(time.Time{}, from)
				if want := at(c.zone, w); !ok || !got.Equal(want) {
					t.Fatalf("after(%v) = %v, %v; want %v", from, got, ok, want)
				}
				from = got
			}
		})
	}
	t.Run("PastYearEnds", func(t *testing.T) {
		if got, ok := cronTimer(t, "0 0 12 * * ? 2020", "UTC").after(time.Time{}, time.Now()); ok {
			t.Fatalf("after = %v, want no tick", got)
		}
	})
	t.Run("PeriodicGrid", func(t *testing.T) {
		tm := mustTimer(t, `{"trigger":{"periodic":{"interval":2,"unit":"HOURS"}}}`)
		t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		if got, _ := tm.first(t0); !got.Equal(t0.Add(2 * time.Hour)) {
			t.Errorf("first = %v", got)
		}
		for from, want := range map[time.Duration]time.Duration{0: 2 * time.Hour, time.Minute: 2 * time.Hour,
			2 * time.Hour: 4 * time.Hour, 5 * time.Hour: 6 * time.Hour} {
			if got, _ := tm.after(t0, t0.Add(from)); !got.Equal(t0.Add(want)) {
				t.Errorf("after(t0, t0+%v) = t0+%v, want t0+%v", from, got.Sub(t0), want)
			}
		}
	})
}

// TestScheduleCatchUp is the misfire policy: a tick a little late is its
// own run, and the next tick follows it; ticks missed for longer than
// ScheduleMisfire get one run between them, and the schedule resumes after
// now.
func TestScheduleCatchUp(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	minutely := cronTimer(t, "0 * * * * ?", "UTC")
	for _, c := range []struct {
		name     string
		tm       *timer
		late     time.Duration
		wantNext time.Time
	}{
		{"OnTime", minutely, 0, t0.Add(time.Minute)},
		{"SlightlyLate", minutely, ScheduleMisfire, t0.Add(time.Minute)},
		{"LateByTicksWithinMisfire", cronTimer(t, "* * * * * ?", "UTC"), 3 * time.Second, t0.Add(time.Second)},
		{"Missed", minutely, ScheduleMisfire + time.Second, t0.Add(time.Minute)},
		{"MissedHours", minutely, 3*time.Hour + 20*time.Second, t0.Add(3*time.Hour + time.Minute)},
		{"PeriodicMissed", mustTimer(t, `{"trigger":{"periodic":{"interval":1,"unit":"HOURS"}}}`), 5*time.Hour + time.Minute, t0.Add(6 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, ok := c.tm.fireAt(t0, t0.Add(c.late))
			if !ok || !next.Equal(c.wantNext) {
				t.Fatalf("fireAt(t0, t0+%v) = t0+%v, %v; want t0+%v", c.late, next.Sub(t0), ok, c.wantNext.Sub(t0))
			}
		})
	}
}

func TestContinuousBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0},
		{1, 0},
		{ContinuousFailureThreshold - 1, 0},
		{ContinuousFailureThreshold, ContinuousBackoff},
		{ContinuousFailureThreshold + 1, 2 * ContinuousBackoff},
		{ContinuousFailureThreshold + 3, 8 * ContinuousBackoff},
		{ContinuousFailureThreshold + 6, ContinuousMaxBackoff}, // 640 s is past the cap
		{1000, ContinuousMaxBackoff},
	} {
		if got := continuousBackoff(tc.failures); got != tc.want {
			t.Errorf("continuousBackoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestFailedInARow(t *testing.T) {
	run := func(result string) *kiln.Run { return &kiln.Run{ResultState: result} }
	for _, tc := range []struct {
		name string
		runs []*kiln.Run
		want int
	}{
		{"None", nil, 0},
		{"LastSucceeded", []*kiln.Run{run(kiln.ResultSuccess), run(kiln.ResultFailed)}, 0},
		{"TwoFailuresThenSuccess", []*kiln.Run{run(kiln.ResultFailed), run(kiln.ResultTimedOut), run(kiln.ResultSuccess), run(kiln.ResultFailed)}, 2},
		{"CancelEndsTheStreak", []*kiln.Run{run(kiln.ResultFailed), run(kiln.ResultCanceled), run(kiln.ResultFailed)}, 1},
		{"AllFailed", []*kiln.Run{run(kiln.ResultFailed), run(kiln.ResultFailed)}, 2},
	} {
		if got := failedInARow(tc.runs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
