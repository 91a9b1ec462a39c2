package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

func schemaCases() []storeCase {
	return []storeCase{
		{name: "schema written with every save", run: testSchemaWritten},
		{name: "schema 1 record migrated", run: testSchemaOneMigrated},
		{name: "newer schema refused", run: testNewerSchemaRefused},
		{name: "history entry of schema 1 read", run: testHistorySchemaOne},
	}
}

func testSchemaWritten(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.s.Save(ctx, fullTrain(testKey, 2)); err != nil {
		t.Fatal(err)
	}
	if got := e.rdb.HGet(ctx, e.s.trainKey(testKey), schemaField).Val(); got != "2" {
		t.Fatalf("schema field %q, want 2", got)
	}
}

// schemaOneTrain is a train as releases before the schema field wrote it:
// no schema, reasons' sentences and the outbox's comment bodies as plain
// strings.
const schemaOneTrain = `{"forge":"gitlab","project":"group/project","branch":"main","version":4,"paused":false,
"settings":{"max_parallel":4,"retries":0,"pipeline_timeout":7200000000000,"method":"merge"},
"target_head":"` + "0000000000000000000000000000000000000001" + `",
"cars":[
 {"mr":7,"head_sha":"0000000000000000000000000000000000000007","added_by":"alice","added_at":"2025-03-14T15:09:26Z","priority":"normal","state":"queued","attempts":0,"builds":0},
 {"mr":5,"head_sha":"0000000000000000000000000000000000000005","added_by":"bob","added_at":"2025-03-14T15:09:20Z","priority":"normal","state":"evicted","attempts":1,"builds":1,
  "pipeline":9007199254740993,
  "reason":{"code":"removed","message":"!5 was removed from the train by @bob.","detail":""}}
],
"outbox":[{"kind":"comment","data":{"MR":5,"Body":"!5 was removed from the train by @bob."}}]}`

func testSchemaOneMigrated(t *testing.T, e *env) {
	ctx := context.Background()
	rkey := e.s.trainKey(testKey)
	e.rdb.SAdd(ctx, e.s.indexKey(), e.s.tag(testKey))
	e.rdb.HSet(ctx, rkey, "v", "4", "d", schemaOneTrain)

	got, err := e.s.Load(ctx, testKey)
	if err != nil {
		t.Fatalf("load a schema 1 train: %v", err)
	}
	if len(got.Cars) != 2 || got.Cars[1].MR != 5 || got.Cars[1].Reason == nil {
		t.Fatalf("cars %+v", got.Cars)
	}
	r := got.Cars[1].Reason
	if r.Code != train.ReasonRemoved || r.Message.String() != "!5 was removed from the train by @bob." || len(r.Detail) != 0 {
		t.Errorf("reason %+v", r)
	}
	// Numbers past float64's exact range survive the migration.
	if got.Cars[1].Pipeline != 9007199254740993 {
		t.Errorf("pipeline %d, want 9007199254740993", got.Cars[1].Pipeline)
	}
	if len(got.Outbox) != 1 {
		t.Fatalf("outbox %+v", got.Outbox)
	}
	c, ok := got.Outbox[0].(train.Comment)
	if !ok || c.MR != 5 || c.Body.String() != "!5 was removed from the train by @bob." {
		t.Errorf("outbox %#v", got.Outbox[0])
	}

	// The next save writes schema 2: spans, and the schema field.
	saved, err := e.s.Save(ctx, got)
	if err != nil {
		t.Fatalf("save the migrated train: %v", err)
	}
	vals := e.rdb.HMGet(ctx, rkey, "d", schemaField).Val()
	if vals[1] != "2" {
		t.Errorf("schema after save %v, want 2", vals[1])
	}
	var raw struct {
		Cars []struct {
			Reason *struct {
				Message json.RawMessage `json:"message"`
			} `json:"reason"`
		} `json:"cars"`
	}
	if err := json.Unmarshal([]byte(vals[0].(string)), &raw); err != nil {
		t.Fatal(err)
	}
	if m := string(raw.Cars[1].Reason.Message); m != `[{"text":"!5 was removed from the train by @bob."}]` {
		t.Errorf("saved message %s, want spans", m)
	}
	again, err := e.s.Load(ctx, testKey)
	if err != nil || !reflect.DeepEqual(again, saved) {
		t.Errorf("reload after migration: %v\n got: %+v\nwant: %+v", err, again, saved)
	}
}

func testNewerSchemaRefused(t *testing.T, e *env) {
	ctx := context.Background()
	rkey := e.s.trainKey(testKey)
	if _, err := e.s.Save(ctx, fullTrain(testKey, 1)); err != nil {
		t.Fatal(err)
	}
	e.rdb.HSet(ctx, rkey, schemaField, "3")
	_, err := e.s.Load(ctx, testKey)
	var se *SchemaError
	if !errors.As(err, &se) || se.Have != 3 || se.Max != 2 || errors.Is(err, ErrCorrupt) {
		t.Fatalf("load of schema 3: %v, want a *SchemaError 3 > 2", err)
	}
	for _, want := range []string{rkey, "schema 3", "reads schemas up to 2", "a newer release wrote it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	// Nothing was overwritten: the newer release's record is intact.
	if v := e.rdb.HGet(ctx, rkey, "v").Val(); v != "1" {
		t.Errorf("version %s after the refused load", v)
	}
	for _, bad := range []string{"0", "two", "-1"} {
		e.rdb.HSet(ctx, rkey, schemaField, bad)
		if _, err := e.s.Load(ctx, testKey); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "schema") {
			t.Errorf("schema %q: load = %v, want ErrCorrupt about the schema", bad, err)
		}
	}
}

func testHistorySchemaOne(t *testing.T, e *env) {
	ctx := context.Background()
	old := `{"mr":3,"head_sha":"0000000000000000000000000000000000000003","added_by":"carol","added_at":"2025-03-14T15:09:26Z",` +
		`"priority":"normal","state":"merged","attempts":1,"builds":1,"reason":{"code":"merged","message":"!3 merged into main.","detail":"by the train"}}`
	if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.s.historyKey(testKey), Values: []any{historyField, old}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AppendHistory(ctx, testKey, fullCar(4)); err != nil {
		t.Fatal(err)
	}
	cars, err := e.s.History(ctx, testKey, 0)
	if err != nil {
		t.Fatalf("history with a schema 1 entry: %v", err)
	}
	if got := mrs(cars); !slices.Equal(got, []int64{4, 3}) {
		t.Fatalf("history %v", got)
	}
	r := cars[1].Reason
	if r == nil || r.Message.String() != "!3 merged into main." || r.Detail.String() != "by the train" {
		t.Errorf("reason of the schema 1 entry %+v", r)
	}
	if !reflect.DeepEqual(cars[0], fullCar(4)) {
		t.Errorf("current entry read back differently:\n got: %+v\nwant: %+v", cars[0], fullCar(4))
	}
}

// The migration itself, apart from the tolerant decoding of train.Text:
// the record it returns already holds spans.
func TestMigrateTrainFromSchemaOne(t *testing.T) {
	out, err := migrateTrain([]byte(schemaOneTrain), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"message":[{"text":"!5 was removed from the train by @bob."}]`,
		`"detail":null`,
		`"Body":[{"text":"!5 was removed from the train by @bob."}]`,
		`"pipeline":9007199254740993`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("migrated record lacks %s:\n%s", want, out)
		}
	}
	if same, err := migrateTrain(out, trainSchema); err != nil || string(same) != string(out) {
		t.Errorf("a current record is changed by migrateTrain: %v", err)
	}
}
