package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// historyField is the stream entry field that holds a car's JSON.
const historyField = "car"

// AppendHistory records cars that left the train, in order, all or none.
// Each train keeps about Options.HistoryLen of them.
func (s *Store) AppendHistory(ctx context.Context, key train.Key, cars ...train.Car) error {
	if len(cars) == 0 {
		return nil
	}
	rkey := s.historyKey(key)
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, c := range cars {
			data, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("encode car !%d: %w", c.MR, err)
			}
			pipe.XAdd(ctx, &redis.XAddArgs{
				Stream: rkey,
				MaxLen: s.opts.HistoryLen,
				Approx: true,
				Values: []any{historyField, data},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append history of train %s: %w", key, err)
	}
	return nil
}

// History returns up to limit departed cars of the train, newest first
// (limit <= 0: all that are kept).
func (s *Store) History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error) {
	rkey := s.historyKey(key)
	var (
		msgs []redis.XMessage
		err  error
	)
	if limit > 0 {
		msgs, err = s.rdb.XRevRangeN(ctx, rkey, "+", "-", limit).Result()
	} else {
		msgs, err = s.rdb.XRevRange(ctx, rkey, "+", "-").Result()
	}
	if err != nil {
		return nil, fmt.Errorf("history of train %s: %w", key, err)
	}
	cars := make([]train.Car, 0, len(msgs))
	for _, m := range msgs {
		c, err := decodeCar(rkey, m)
		if err != nil {
			return nil, fmt.Errorf("history of train %s: %w", key, err)
		}
		cars = append(cars, c)
	}
	return cars, nil
}

func decodeCar(rkey string, m redis.XMessage) (train.Car, error) {
	var c train.Car
	data, ok := m.Values[historyField].(string)
	if !ok {
		return c, &CorruptError{RedisKey: rkey, EntryID: m.ID, Err: fmt.Errorf("no %q field", historyField)}
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return c, &CorruptError{RedisKey: rkey, EntryID: m.ID, Err: err}
	}
	return c, nil
}
