package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/pkg/api"
)

// runCLI runs trainyard in-process with args and returns what it printed
// on stdout and the error main would print as its one line.
func runCLI(t *testing.T, e *apitest.Env, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(e.Ctx)
	if stderr.Len() > 0 {
		t.Errorf("trainyard %v wrote to stderr: %q", args, stderr.String())
	}
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Errorf("trainyard %v coloured output that is not a terminal: %q", args, stdout.String())
	}
	if err != nil && strings.Count(fmt.Sprintln("trainyard:", err), "\n") != 1 {
		t.Errorf("trainyard %v: error is not one line: %q", args, err)
	}
	return stdout.String(), err
}

// mustRun runs trainyard against e's server and fails on an error.
func mustRun(t *testing.T, e *apitest.Env, args ...string) string {
	t.Helper()
	out, err := runCLI(t, e, append(args, "--server", e.URL, "--token", apitest.Token)...)
	if err != nil {
		t.Fatalf("trainyard %v: %v", args, err)
	}
	return out
}

func wantOutput(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("output\n%s\nwant\n%s", got, want)
	}
}

func TestTrainCommands(t *testing.T) {
	t.Setenv("NO_COLOR", "") // set: no colour even on a terminal
	e := apitest.New(t, apitest.Options{})
	one, two := e.MR(1, false), e.MR(2, false)

	wantOutput(t, mustRun(t, e, "train", "list"), "No trains.\n")
	wantOutput(t, mustRun(t, e, "train", "add", "group/app", "!1", "--user", "alice"),
		"Added !1 of group/app: on the train for main at position 1, running.\n")
	wantOutput(t, mustRun(t, e, "train", "add", "group/app", fmt.Sprint(two)),
		"Added !2 of group/app: on the train for main at position 2, running.\n")
	e.Sweep()
	e.Clock.Advance(95 * time.Second)

	wantOutput(t, mustRun(t, e, "train", "list"), ""+
		"FORGE   PROJECT    BRANCH  CARS  RUNNING  STATUS\n"+
		"gitlab  group/app  main    2     2        active\n")

	tr, err := e.Engine.Train(e.Ctx, e.Key)
	if err != nil || len(tr.Cars) != 2 {
		t.Fatalf("train %+v, %v", tr, err)
	}
	p1, p2 := fmt.Sprintf("#%d", tr.Cars[0].Pipeline), fmt.Sprintf("#%d", tr.Cars[1].Pipeline)
	wantOutput(t, mustRun(t, e, "train", "show", "group/app", "main"), fmt.Sprintf(""+
		"Train main of group/app (gitlab): 2 cars, testing up to 20 at once\n"+
		"POS  MR  STATE    PIPELINE  ON TRAIN  MERGE IN  TITLE\n"+
		"1    !1  running  %-8s  1m35s     -         Change 1\n"+
		"2    !2  running  %-8s  1m35s     -         Change 2\n", p1, p2))

	var shown api.Train
	if err := json.Unmarshal([]byte(mustRun(t, e, "train", "show", "group/app", "main", "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Cars) != 2 || shown.Cars[0].MR != one || shown.Cars[0].TimeOnTrain.Std() != 95*time.Second ||
		shown.Cars[1].MRURL != e.Forge.URL()+"/group/app/-/merge_requests/2" || shown.Cars[0].AddedBy != "alice" {
		t.Fatalf("show -o json: %+v", shown)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(mustRun(t, e, "train", "show", "group/app", "main", "-o", "yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	cars, _ := doc["cars"].([]any)
	if doc["branch"] != "main" || doc["max_parallel"] != 20 || len(cars) != 2 || cars[1].(map[string]any)["pipeline"] != int(tr.Cars[1].Pipeline) {
		t.Fatalf("show -o yaml: %v", doc)
	}

	wantOutput(t, mustRun(t, e, "train", "pause", "group/app", "main"), "Paused the train for main of group/app (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "list"), ""+
		"FORGE   PROJECT    BRANCH  CARS  RUNNING  STATUS\n"+
		"gitlab  group/app  main    2     2        paused\n")
	wantOutput(t, mustRun(t, e, "train", "resume", "group/app", "main"), "Resumed the train for main of group/app (2 cars).\n")
	// A project path is the same project whatever its case.
	wantOutput(t, mustRun(t, e, "train", "pause", "Group/APP", "main"), "Paused the train for main of group/app (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "resume", "GROUP/app", "main"), "Resumed the train for main of group/app (2 cars).\n")

	wantOutput(t, mustRun(t, e, "train", "freeze", "group/app", "main", "--reason", "release 2.0 is being cut"),
		"Froze the train for main of group/app (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "list"), ""+
		"FORGE   PROJECT    BRANCH  CARS  RUNNING  STATUS  HOLD\n"+
		"gitlab  group/app  main    2     2        frozen  release 2.0 is being cut\n")
	wantOutput(t, mustRun(t, e, "train", "show", "group/app", "main"), fmt.Sprintf(""+
		"Train main of group/app (gitlab): 2 cars, testing up to 20 at once\n"+
		"Nothing merges while the merge train is frozen by api: release 2.0 is being cut.\n"+
		"POS  MR  STATE    PIPELINE  ON TRAIN  MERGE IN  TITLE\n"+
		"1    !1  running  %-8s  1m35s     held      Change 1\n"+
		"2    !2  running  %-8s  1m35s     held      Change 2\n", p1, p2))
	var frozen api.Train
	if err := json.Unmarshal([]byte(mustRun(t, e, "train", "freeze", "group/app", "main", "--reason", "rc1", "--user", "ops", "-o", "json")), &frozen); err != nil {
		t.Fatal(err)
	}
	if frozen.Frozen == nil || *frozen.Frozen != (api.Freeze{Kind: api.HoldFrozen, Reason: "rc1", By: "ops (API token api)"}) || frozen.Hold == nil || frozen.Hold.Reason != "rc1" {
		t.Fatalf("freeze -o json: frozen %+v, hold %+v", frozen.Frozen, frozen.Hold)
	}
	if tr, err := e.Engine.Train(e.Ctx, e.Key); err != nil || tr.Frozen == nil || tr.Frozen.Reason != "rc1" {
		t.Fatalf("the engine's train after freeze: %+v, %v", tr.Frozen, err)
	}
	wantOutput(t, mustRun(t, e, "train", "unfreeze", "group/app", "main"), "Unfroze the train for main of group/app (2 cars).\n")
	// Again: nothing was frozen, and the answer says so.
	wantOutput(t, mustRun(t, e, "train", "unfreeze", "group/app", "main"), "The train for main of group/app was not frozen; nothing changed (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "resume", "group/app", "main"), "The train for main of group/app was not paused; nothing changed (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "drain", "group/app", "main"), "Draining the train for main of group/app (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "list"), ""+
		"FORGE   PROJECT    BRANCH  CARS  RUNNING  STATUS\n"+
		"gitlab  group/app  main    2     2        draining\n")
	if out := mustRun(t, e, "train", "show", "group/app", "main"); !strings.HasPrefix(out,
		"Train main of group/app (gitlab): 2 cars, testing up to 20 at once, draining (no new cars)\nPOS ") {
		t.Fatalf("show of a draining train:\n%s", out)
	}
	wantOutput(t, mustRun(t, e, "train", "drain", "group/app", "main"), "The train for main of group/app was draining already; nothing changed (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "undrain", "group/app", "main", "--user", "ops"), "Stopped draining the train for main of group/app (2 cars).\n")
	wantOutput(t, mustRun(t, e, "train", "undrain", "group/app", "main"), "The train for main of group/app was not draining; nothing changed (2 cars).\n")
	if tr, err := e.Engine.Train(e.Ctx, e.Key); err != nil || tr.Frozen != nil || tr.Draining {
		t.Fatalf("the engine's train after unfreeze and undrain: frozen %+v, draining %v, %v", tr.Frozen, tr.Draining, err)
	}

	wantOutput(t, mustRun(t, e, "train", "history", "group/app", "main"), "No merge request has left this train.\n")
	wantOutput(t, mustRun(t, e, "train", "remove", "group/app", "1", "--user", "bob"), "Removed !1 of group/app: not on any train.\n")
	wantOutput(t, mustRun(t, e, "train", "history", "group/app", "main"), fmt.Sprintf(""+
		"LEFT                 MR  STATE    REASON   PIPELINE  TITLE\n"+
		"%s  !1  evicted  removed  %-8s  Change 1\n", localTime(e.Clock.Now()), p1))
	var hist api.History
	if err := json.Unmarshal([]byte(mustRun(t, e, "train", "history", "group/app", "main", "-o", "json", "--limit", "1")), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Entries) != 1 || hist.Entries[0].ReasonCode != "removed" || hist.Branch != "main" {
		t.Fatalf("history -o json: %+v", hist)
	}

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			args []string
			want string
		}{
			{[]string{"train", "show", "group/app", "develop", "--server", e.URL}, "train develop of group/app on gitlab not found (HTTP 404)"},
			{[]string{"train", "add", "group/app", "1", "--server", e.URL, "--token", "wrong"}, "invalid token (HTTP 401)"},
			{[]string{"train", "add", "group/app", "1", "--server", e.URL}, "missing bearer token (Authorization: Bearer <token>) (HTTP 401)"},
			{[]string{"train", "add", "group/app", "99", "--server", e.URL, "--token", apitest.Token}, "merge request !99 of group/app not found (HTTP 404)"},
			{[]string{"train", "show", "group/app", "main", "--server", e.URL, "--forge", "github"}, `forge "github": forge not configured (HTTP 404)`},
			{[]string{"train", "add", "group/app", "x1", "--server", e.URL}, `merge request "x1": want a number such as 12, !12 or #12`},
			{[]string{"train", "list", "-o", "xml", "--server", e.URL}, `-o "xml": want table, json or yaml`},
			{[]string{"train", "list", "--server", "ftp://example.com"}, `server "ftp://example.com": want a URL such as http://127.0.0.1:8080`},
			{[]string{"train", "history", "group/app", "main", "--limit", "0", "--server", e.URL}, "--limit 0: want a number from 1 to 500"},
			{[]string{"train", "show", "group/app"}, "missing BRANCH: usage is trainyard train show PROJECT BRANCH"},
			{[]string{"train", "freeze", "group/app", "main", "--server", e.URL}, `--reason: required; say why the train is frozen, like --reason "release 2.0 is being cut"`},
			{[]string{"train", "freeze", "group/app", "main", "--reason", " ", "--server", e.URL}, `--reason: required; say why the train is frozen, like --reason "release 2.0 is being cut"`},
			{[]string{"train", "freeze", "group/app", "main", "--reason", strings.Repeat("x", 201), "--server", e.URL, "--token", apitest.Token},
				"--reason: want at most 200 characters, got 201"},
			{[]string{"train", "freeze", "group/app", "main", "--reason", "x", "--server", e.URL}, "missing bearer token (Authorization: Bearer <token>) (HTTP 401)"},
			{[]string{"train", "freeze", "group/app", "develop", "--reason", "x", "--server", e.URL, "--token", apitest.Token}, "train develop of group/app on gitlab not found (HTTP 404)"},
			{[]string{"train", "drain", "group/app", "develop", "--server", e.URL, "--token", apitest.Token}, "train develop of group/app on gitlab not found (HTTP 404)"},
			{[]string{"train", "undrain", "group/app", "main", "--server", e.URL, "--token", "wrong"}, "invalid token (HTTP 401)"},
			{[]string{"train", "unfreeze", "group/app"}, "missing BRANCH: usage is trainyard train unfreeze PROJECT BRANCH"},
		}
		for _, c := range cases {
			out, err := runCLI(t, e, c.args...)
			if err == nil || err.Error() != c.want {
				t.Errorf("trainyard %v: error %v, want %q", c.args, err, c.want)
			}
			if out != "" {
				t.Errorf("trainyard %v printed %q on failing", c.args, out)
			}
		}
	})
}

func TestTrainCommandsReadTheEnvironment(t *testing.T) {
	e := apitest.New(t, apitest.Options{ProtectReads: true})
	e.MR(1, false)
	t.Setenv("TRAINYARD_SERVER", e.URL)
	t.Setenv("TRAINYARD_TOKEN", apitest.Token)
	out, err := runCLI(t, e, "train", "add", "group/app", "1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st api.MRStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Car == nil || st.Branch != "main" {
		t.Fatalf("add -o json: %q (%v)", out, err)
	}
	// The flag beats the environment.
	if _, err := runCLI(t, e, "train", "list", "--token", "wrong"); err == nil || err.Error() != "invalid token (HTTP 401)" {
		t.Fatalf("--token over TRAINYARD_TOKEN: %v", err)
	}
}

// TestColourKeepsColumnsAligned prints a table with colour and checks that,
// the escapes aside, it is the table without colour.
func TestColourKeepsColumnsAligned(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hist := []api.HistoryEntry{
		{MR: 1, Title: "One", State: api.StateMerged, ReasonCode: "merged", Pipeline: 7, LeftAt: t0},
		{MR: 22, Title: "Two", State: api.StateEvicted, ReasonCode: "pipeline_failed", Pipeline: 1234, LeftAt: t0},
	}
	eta := api.Duration(6 * time.Minute)
	tr := api.Train{Forge: "gitlab", Project: "g/a", Branch: "main", MaxParallel: 2, Cars: []api.Car{
		{Position: 1, MR: 3, State: api.StateRunning, Pipeline: 9, EstimatedMerge: &eta, Title: "Three"},
		{Position: 2, MR: 4, State: api.StateQueued, TimeOnTrain: api.Duration(time.Hour), Title: "Four"},
		{Position: 3, MR: 5, State: api.StateFailed, Title: "Five"},
	}}
	render := func(colour bool) string {
		var b bytes.Buffer
		p := &printer{w: &b, format: "table", colour: colour}
		if err := p.history(hist); err != nil {
			t.Fatal(err)
		}
		if err := p.train(tr); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	plain, coloured := render(false), render(true)
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, want := range []string{"\x1b[32mmerged\x1b[0m", "\x1b[31mevicted\x1b[0m", "\x1b[33mrunning\x1b[0m", "\x1b[31mfailed\x1b[0m"} {
		if !strings.Contains(coloured, want) {
			t.Errorf("no %q in\n%s", want, coloured)
		}
	}
	if got := ansi.ReplaceAllString(coloured, ""); got != plain {
		t.Fatalf("coloured table, escapes removed:\n%s\nplain table:\n%s", got, plain)
	}
	wantOutput(t, plain, ""+
		"LEFT                 MR   STATE    REASON           PIPELINE  TITLE\n"+
		localTime(t0)+"  !1   merged   merged           #7        One\n"+
		localTime(t0)+"  !22  evicted  pipeline_failed  #1234     Two\n"+
		"Train main of g/a (gitlab): 3 cars, testing up to 2 at once\n"+
		"POS  MR  STATE    PIPELINE  ON TRAIN  MERGE IN  TITLE\n"+
		"1    !3  running  #9        0s        ~6m       Three\n"+
		"2    !4  queued   -         1h00m     -         Four\n"+
		"3    !5  failed   -         0s        -         Five\n")
}

// TestColourOnlyOnATerminal uses /dev/null, a character device as a
// terminal is, for stdout.
func TestColourOnlyOnATerminal(t *testing.T) {
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	colour := func() (onDevice, onBuffer bool) {
		p, err := newPrinter(dev, "table")
		if err != nil {
			t.Fatal(err)
		}
		q, err := newPrinter(&bytes.Buffer{}, "table")
		if err != nil {
			t.Fatal(err)
		}
		return p.colour, q.colour
	}
	t.Setenv("NO_COLOR", "") // restores the old value when the test ends
	os.Unsetenv("NO_COLOR")
	if dev, buf := colour(); !dev || buf {
		t.Fatalf("without NO_COLOR: colour on the device %v, in a buffer %v; want true, false", dev, buf)
	}
	t.Setenv("NO_COLOR", "1")
	if dev, _ := colour(); dev {
		t.Fatal("colour with NO_COLOR set")
	}
}

func TestShortDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", -time.Second: "0s", 45 * time.Second: "45s", 6 * time.Minute: "6m", 390 * time.Second: "6m30s",
		2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d04h",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCompletion(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand(&out, &bytes.Buffer{})
	root.SetArgs([]string{"completion", "bash"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "__start_trainyard") {
		t.Fatalf("completion bash printed no bash completion: %.200q", out.String())
	}
	out.Reset()
	root = newRootCommand(&out, &bytes.Buffer{})
	root.SetArgs([]string{"__complete", "train", "show", "-o", ""})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "table\njson\nyaml\n:4\n") {
		t.Fatalf("completion of -o: %q", out.String())
	}
}

func TestCarPipelineNamesWhatTestsTheCar(t *testing.T) {
	for _, tt := range []struct {
		car  api.Car
		want string
	}{
		{api.Car{}, "-"},
		{api.Car{Pipeline: 12}, "#12"},
		{api.Car{TestedWith: 7}, "with !7"},
		{api.Car{TestedWith: 8}, "with #8"},
		{api.Car{Pipeline: 13, Bisecting: true}, "#13 (bisect)"},
	} {
		t8 := api.Train{Cars: []api.Car{{MR: 8, Label: "#8"}}}
		if got := carPipeline(t8, tt.car); got != tt.want {
			t.Errorf("carPipeline(%+v) = %q, want %q", tt.car, got, tt.want)
		}
	}
}

func TestCarLabelSaysPriorityDependenciesAndLanes(t *testing.T) {
	tr := api.Train{Cars: []api.Car{{MR: 8, Label: "#8"}}}
	for _, tt := range []struct {
		car  api.Car
		want string
	}{
		{api.Car{MR: 9, Label: "#9"}, "#9"},
		{api.Car{MR: 9, Label: "#9", Priority: "urgent"}, "#9 urgent"},
		{api.Car{MR: 9, Label: "#9", DependsOn: []int64{8, 5}}, "#9 after #8,!5"},
		{api.Car{MR: 9, Label: "#9", Priority: "high", Lanes: []string{"api", "web"}}, "#9 high [api,web]"},
	} {
		if got := carLabel(tr, tt.car); got != tt.want {
			t.Errorf("carLabel(%+v) = %q, want %q", tt.car, got, tt.want)
		}
	}
}

// The MRs tested in their lanes first are listed below the cars, with
// the lanes each passed in; a train with only such MRs lists them alone.
func TestTrainTableShowsTheMRsInTheirLanes(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b, format: "table"}
	tr := api.Train{Forge: "gitlab", Project: "g/a", Branch: "main", MaxParallel: 2,
		Cars: []api.Car{{Position: 1, MR: 3, Label: "!3", State: api.StateRunning, Pipeline: 9, Title: "Three"}},
		InLanes: []api.LaneCar{
			{MR: 5, Label: "!5", Title: "API change", AddedBy: "alice", Lanes: []string{"api"}},
			{MR: 6, Label: "!6", Title: "Both", AddedBy: "bob", Lanes: []string{"api", "web"}, Passed: []string{"web"}},
		}}
	if err := p.train(tr); err != nil {
		t.Fatal(err)
	}
	tr.Cars = nil
	tr.InLanes = tr.InLanes[1:]
	if err := p.train(tr); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, b.String(), ""+
		"Train main of g/a (gitlab): 1 car, testing up to 2 at once\n"+
		"POS  MR  STATE    PIPELINE  ON TRAIN  MERGE IN  TITLE\n"+
		"1    !3  running  #9        0s        -         Three\n"+
		"Tested in their lanes first: 2 merge requests\n"+
		"MR  LANES                        ADDED BY  TITLE\n"+
		"!5  api (testing)                alice     API change\n"+
		"!6  api (testing), web (passed)  bob       Both\n"+
		"Train main of g/a (gitlab): 0 cars, testing up to 2 at once\n"+
		"Tested in their lanes first: 1 merge request\n"+
		"MR  LANES                        ADDED BY  TITLE\n"+
		"!6  api (testing), web (passed)  bob       Both\n")
}

// An MR command's answer says where the MR is: a car, in its lanes, or
// on no train.
func TestMRStatusLine(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b, format: "table"}
	for _, st := range []api.MRStatus{
		{Project: "g/a", MR: 5, Label: "!5", Branch: "main", Car: &api.Car{Position: 2, State: api.StateQueued}},
		{Project: "g/a", MR: 6, Label: "!6", Branch: "main", InLanes: &api.LaneCar{Lanes: []string{"api", "web"}, Passed: []string{"api"}}},
		{Project: "g/a", MR: 7, Label: "!7"},
	} {
		if err := p.mrStatus("Added", st); err != nil {
			t.Fatal(err)
		}
	}
	wantOutput(t, b.String(), ""+
		"Added !5 of g/a: on the train for main at position 2, queued.\n"+
		"Added !6 of g/a: on the train for main, tested in its lanes first: api (passed), web (testing).\n"+
		"Added !7 of g/a: not on any train.\n")
}

// The CLI writes an MR the way its forge does, as the server labels it.
func TestMRLabels(t *testing.T) {
	for _, tt := range []struct {
		given string
		mr    int64
		want  string
	}{{"#12", 12, "#12"}, {"!12", 12, "!12"}, {"", 12, "!12"}} {
		if got := label(tt.given, tt.mr); got != tt.want {
			t.Errorf("label(%q, %d) = %q, want %q", tt.given, tt.mr, got, tt.want)
		}
	}
	for _, s := range []string{"12", "!12", "#12"} {
		if n, err := parseMR(s); err != nil || n != 12 {
			t.Errorf("parseMR(%q) = %d, %v", s, n, err)
		}
	}
	// One mark at most, and then digits alone.
	for _, s := range []string{"!!3", "#!3", "!#3", "##3", "+3", "!+3", "3!", "!", "", "0", "!-3"} {
		if n, err := parseMR(s); exitCode(err) != exitUsage {
			t.Errorf("parseMR(%q) = %d, %v; want a usage error", s, n, err)
		}
	}
}

// A held train says what holds it and until when, in the list and in
// show, and its cars say held instead of an estimate.
func TestHeldTrainTables(t *testing.T) {
	until := time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := &printer{w: &b, format: "table"}
	ts := []api.TrainSummary{
		{Forge: "gitlab", Project: "g/a", Branch: "main", Cars: 1, Draining: true,
			Hold: &api.Hold{Kind: api.HoldFreeze, Reason: "quarter end", Until: until}},
		{Forge: "gitlab", Project: "g/a", Branch: "next", Paused: true,
			Hold: &api.Hold{Kind: api.HoldMergeWindow, Reason: "Mon-Fri 09:00-17:00 Europe/Berlin", Until: until}},
		{Forge: "gitlab", Project: "g/b", Branch: "main", Hold: &api.Hold{Kind: api.HoldFrozen, Reason: "line\x1b[31m one\nand two"}},
		{Forge: "gitlab", Project: "g/c", Branch: "main"},
	}
	if err := p.trainList(ts); err != nil {
		t.Fatal(err)
	}
	tr := api.Train{Forge: "gitlab", Project: "g/a", Branch: "main", MaxParallel: 2, Draining: true,
		Hold: &api.Hold{Kind: api.HoldFreeze, Reason: "quarter end", Until: until,
			Sentence: "the target branch is in a freeze period until 2025-03-02 08:00 UTC: quarter end"},
		Cars: []api.Car{{Position: 1, MR: 3, State: api.StatePassed, Pipeline: 9, Title: "Three"}}}
	if err := p.train(tr); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, b.String(), ""+
		"FORGE   PROJECT  BRANCH  CARS  RUNNING  STATUS          HOLD\n"+
		"gitlab  g/a      main    1     0        held, draining  freeze period: quarter end, until "+localTime(until)+"\n"+
		"gitlab  g/a      next    0     0        paused, held    outside merge windows (Mon-Fri 09:00-17:00 Europe/Berlin), until "+localTime(until)+"\n"+
		"gitlab  g/b      main    0     0        frozen          line [31m one and two\n"+
		"gitlab  g/c      main    0     0        active          -\n"+
		"Train main of g/a (gitlab): 1 car, testing up to 2 at once, draining (no new cars)\n"+
		"Nothing merges while the target branch is in a freeze period until 2025-03-02 08:00 UTC: quarter end.\n"+
		"POS  MR  STATE   PIPELINE  ON TRAIN  MERGE IN  TITLE\n"+
		"1    !3  passed  #9        0s        held      Three\n")
}

// What forges and their users wrote (titles, names, branches, reasons)
// reaches the terminal as text: escapes, bells, carriage returns, line
// breaks, tabs, C1 controls and bidirectional overrides are taken out,
// in every table and line a command prints.
func TestTablesShowHostileTextAsText(t *testing.T) {
	const hostile = "a\x1b]0;pwned\x07b\rc\nd\te\u009b31mf\u202eg\u2066h"
	const shown = "a ]0;pwned b c d e 31mfgh"
	var b bytes.Buffer
	p := &printer{w: &b, format: "table"}
	tr := api.Train{Forge: "gitlab", Project: "g/a" + hostile, Branch: "main" + hostile, MaxParallel: 2,
		Cars: []api.Car{{Position: 1, MR: 3, Label: "!3" + hostile, State: api.StateRunning + hostile, Pipeline: 9, Title: hostile,
			Priority: "high" + hostile, Lanes: []string{"api" + hostile}}},
		InLanes: []api.LaneCar{{MR: 5, Label: "!5", Title: hostile, AddedBy: "alice" + hostile, Lanes: []string{"web" + hostile}}}}
	if err := p.train(tr); err != nil {
		t.Fatal(err)
	}
	// Columns two apart, each as wide as its widest cell.
	cols := func(cells ...string) string {
		var line strings.Builder
		for i := 0; i < len(cells); i += 2 {
			if i+1 == len(cells) {
				line.WriteString(cells[i])
				break
			}
			w, _ := strconv.Atoi(cells[i+1])
			fmt.Fprintf(&line, "%-*s", w+2, cells[i])
		}
		return line.String() + "\n"
	}
	mr, state := "!3"+shown+" high"+shown+" [api"+shown+"]", "running"+shown
	lanes, by := "web"+shown+" (testing)", "alice"+shown
	n := func(s string) string { return strconv.Itoa(len(s)) }
	wantOutput(t, b.String(), ""+
		"Train main"+shown+" of g/a"+shown+" (gitlab): 1 car, testing up to 2 at once\n"+
		cols("POS", "3", "MR", n(mr), "STATE", n(state), "PIPELINE", "8", "ON TRAIN", "8", "MERGE IN", "8", "TITLE")+
		cols("1", "3", mr, n(mr), state, n(state), "#9", "8", "0s", "8", "-", "8", shown)+
		"Tested in their lanes first: 1 merge request\n"+
		cols("MR", "2", "LANES", n(lanes), "ADDED BY", n(by), "TITLE")+
		cols("!5", "2", lanes, n(lanes), by, n(by), shown))

	b.Reset()
	left := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := p.history([]api.HistoryEntry{{LeftAt: left, MR: 4, Label: "!4", State: api.StateEvicted, ReasonCode: "failed" + hostile, Pipeline: 7, Title: hostile}}); err != nil {
		t.Fatal(err)
	}
	reason := "failed" + shown
	wantOutput(t, b.String(), ""+
		cols("LEFT", "19", "MR", "2", "STATE", "7", "REASON", n(reason), "PIPELINE", "8", "TITLE")+
		cols(localTime(left), "19", "!4", "2", "evicted", "7", reason, n(reason), "#7", "8", shown))

	// The rest: no control character but the line breaks, nor any
	// bidirectional control, whatever they print.
	b.Reset()
	for _, err := range []error{
		p.trainList([]api.TrainSummary{{Forge: "gitlab" + hostile, Project: hostile, Branch: hostile}}),
		p.mrStatus("Added", api.MRStatus{Project: hostile, MR: 3, Label: hostile, Branch: hostile, Car: &api.Car{Position: 1, State: hostile}}),
		p.mrStatus("Added", api.MRStatus{Project: hostile, MR: 3, Branch: hostile, InLanes: &api.LaneCar{Lanes: []string{hostile}}}),
		p.paused("Paused", api.Train{Project: hostile, Branch: hostile}),
		p.deadLetters([]api.DeadLetter{{ID: hostile, Forge: hostile, Project: hostile, Kind: hostile, Reason: hostile}}),
		p.deadLetter(api.DeadLetter{ID: hostile, Entry: hostile, Delivery: hostile, Forge: hostile, Project: hostile, Kind: hostile,
			Reason: hostile, Event: []byte(`{"title":"a` + "\u009b\u202e\x7f" + `b"}`)}),
		p.deadLetter(api.DeadLetter{ID: "1-0", Data: hostile}),
		p.requeued(api.Requeued{ID: hostile, Entry: hostile}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if i := strings.IndexFunc(out, func(r rune) bool {
		return (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Bidi_Control, r)
	}); i >= 0 {
		t.Fatalf("control character %q in the output at %d:\n%q", []rune(out[i:])[0], i, out)
	}
	// The event's JSON keeps its meaning: the characters are escaped.
	if !strings.Contains(out, `"title": "a\u009b\u202e\u007fb"`) {
		t.Errorf("the event's title is not escaped:\n%s", out)
	}
	if !strings.Contains(out, "Data:       "+strconv.Quote(hostile)+" (not JSON)\n") {
		t.Errorf("data that is not JSON is not quoted exactly:\n%s", out)
	}
	if got := errorText(errors.New("refused: " + hostile + "\nsecond line")); got != "trainyard: refused: a ]0;pwned b c\nd e 31mfgh\nsecond line" {
		t.Errorf("errorText = %q", got)
	}
}

// The fake forge's tables show what its users wrote as text too.
func TestFakeforgeTablesShowHostileTextAsText(t *testing.T) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	mrRows(tw, fakeforge.ControlMR{IID: 1, State: "opened", SourceBranch: "f\x1b[2Jx", TargetBranch: "main", Author: "al\rice",
		SHA: "0123456789abcdef", Title: "Fix\x1b]8;;http://evil\x07 the\tbug\u202e"})
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, b.String(), ""+
		"MR  STATE   SOURCE  TARGET  AUTHOR  SHA       TITLE\n"+
		"!1  opened  f [2Jx  main    al ice  01234567  Fix ]8;;http://evil the bug\n")
}
