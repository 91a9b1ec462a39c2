package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// trainSchema is the format of the train records this release writes, in
// the hash field schemaField. A record without the field is schema 1, as
// every release before the field wrote. Each change of format that an
// older release would misread raises it by one and adds the migration
// from the previous schema; an older record is migrated as it is loaded
// and written in the current schema by the next save.
const trainSchema = 2

// schemaField is the train hash's field holding the record's schema.
const schemaField = "s"

// SchemaError says a train record was written by a newer release, in a
// format this one cannot read without losing what it does not know.
type SchemaError struct {
	RedisKey string
	Have     int // the record's schema
	Max      int // the newest this release reads
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("%s holds train state of schema %d, but this trainyard reads schemas up to %d: "+
		"a newer release wrote it; run that release (a downgrade must stop every newer replica first)",
		e.RedisKey, e.Have, e.Max)
}

// parseSchema reads the schema field; absent is schema 1.
func parseSchema(rkey string, s any) (int, error) {
	if s == nil {
		return 1, nil
	}
	str, _ := s.(string)
	n, err := strconv.Atoi(str)
	if err != nil || n < 1 {
		return 0, &CorruptError{RedisKey: rkey, Err: fmt.Errorf("schema %q is not a positive number", str)}
	}
	if n > trainSchema {
		return 0, &SchemaError{RedisKey: rkey, Have: n, Max: trainSchema}
	}
	return n, nil
}

// A migration turns a record of one schema into the next, as decoded JSON
// with exact numbers.
type migration func(rec map[string]any) error

// trainMigrations are indexed by the schema they migrate from, less one.
func trainMigrations() []migration {
	return []migration{
		textsAsSpans, // 1 → 2
	}
}

// migrateTrain brings the JSON of a train record of schema from up to
// trainSchema.
func migrateTrain(data []byte, from int) ([]byte, error) {
	if from == trainSchema {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	steps := trainMigrations()
	for v := from; v < trainSchema; v++ {
		if err := steps[v-1](rec); err != nil {
			return nil, fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return json.Marshal(rec)
}

// textsAsSpans: schema 1 wrote the sentences of reasons and of the outbox's
// comments and statuses as plain strings; schema 2 writes them as spans,
// which can carry references to pipelines. History entries, never
// rewritten, are read as they are: train.Text still decodes a plain string.
func textsAsSpans(rec map[string]any) error {
	if cars, ok := rec["cars"].([]any); ok {
		for _, c := range cars {
			if car, ok := c.(map[string]any); ok {
				carTextsAsSpans(car)
			}
		}
	}
	if outbox, ok := rec["outbox"].([]any); ok {
		for _, e := range outbox {
			env, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if data, ok := env["data"].(map[string]any); ok {
				for _, field := range []string{"Body", "Added", "Outcome"} {
					spans(data, field)
				}
			}
		}
	}
	return nil
}

func carTextsAsSpans(car map[string]any) {
	if reason, ok := car["reason"].(map[string]any); ok {
		spans(reason, "message")
		spans(reason, "detail")
	}
}

// spans rewrites m[field] from a plain string to a list of one span.
func spans(m map[string]any, field string) {
	s, ok := m[field].(string)
	if !ok {
		return
	}
	if s == "" {
		m[field] = nil
		return
	}
	m[field] = []any{map[string]any{"text": s}}
}
