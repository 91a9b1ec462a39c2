package config

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/trainyard/trainyard/internal/redistest"
)

func TestRedisOptions(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, o *redis.UniversalOptions)
	}{
		{"url", "redis: {url: 'rediss://u:p@db.example:6380/3?dial_timeout=2s&pool_size=7'}", func(t *testing.T, o *redis.UniversalOptions) {
			if !slices.Equal(o.Addrs, []string{"db.example:6380"}) || o.DB != 3 || o.Username != "u" || o.Password != "p" ||
				o.DialTimeout != 2*time.Second || o.PoolSize != 7 || o.TLSConfig == nil || o.TLSConfig.ServerName != "db.example" ||
				o.IsClusterMode || o.MasterName != "" {
				t.Errorf("options = %+v", o)
			}
		}},
		{"fields override url credentials", "redis: {url: 'redis://u:p@h:1', username: u2, password: p2}", func(t *testing.T, o *redis.UniversalOptions) {
			if o.Username != "u2" || o.Password != "p2" {
				t.Errorf("credentials = %q %q, want u2 p2", o.Username, o.Password)
			}
		}},
		{"cluster", "redis: {addrs: ['n1:7000']}", func(t *testing.T, o *redis.UniversalOptions) {
			if !slices.Equal(o.Addrs, []string{"n1:7000"}) || !o.IsClusterMode || o.MasterName != "" {
				t.Errorf("options = %+v, want cluster mode even with one seed", o)
			}
		}},
		{"sentinel", "redis: {addrs: ['s1:26379', 's2:26379'], master_name: mymaster, password: pw}", func(t *testing.T, o *redis.UniversalOptions) {
			if len(o.Addrs) != 2 || o.IsClusterMode || o.MasterName != "mymaster" || o.Password != "pw" {
				t.Errorf("options = %+v, want sentinel", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml, nil)
			o, err := c.RedisOptions()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestRedisOptionsConnect(t *testing.T) {
	c := mustParse(t, "", map[string]string{"TRAINYARD_REDIS_URL": redistest.URL(t)})
	ping(t, c)
}

func TestRedisOptionsUnixSocket(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed for this test (apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	socket := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := mustParse(t, "redis: {url: 'unix://"+socket+"'}", nil)
	ping(t, c)
}

// ping connects with the configuration's options, waiting a little for a
// server that is still starting.
func ping(t *testing.T, c *Config) {
	t.Helper()
	o, err := c.RedisOptions()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewUniversalClient(o)
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		err := client.Ping(ctx).Err()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("ping %s: %v", c.Redis.URL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
