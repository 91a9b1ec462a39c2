package config

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Options returns the options for redis.NewUniversalClient: a single
// server for url, a Sentinel-backed failover client for addrs with
// master_name, and a Cluster client for addrs alone (even one seed
// address). username and password, when set, override the URL's.
func (r *Redis) Options() (*redis.UniversalOptions, error) {
	var o *redis.UniversalOptions
	if r.URL != "" {
		simple, err := redis.ParseURL(string(r.URL))
		if err != nil {
			return nil, urlError(err)
		}
		o = universal(simple)
	} else {
		o = &redis.UniversalOptions{
			Addrs:         slices.Clone(r.Addrs),
			MasterName:    r.MasterName,
			IsClusterMode: r.MasterName == "",
		}
	}
	if r.Username != "" {
		o.Username = r.Username
	}
	if !r.Password.IsZero() {
		o.Password = r.Password.Reveal()
	}
	return o, nil
}

// RedisOptions is c.Redis.Options().
func (c *Config) RedisOptions() (*redis.UniversalOptions, error) { return c.Redis.Options() }

// urlError drops the URL from a parse error: it may hold the password.
func urlError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return errors.New(strings.TrimPrefix(err.Error(), "redis: "))
}

// universal carries over what redis.ParseURL can set. UniversalOptions has
// no network, so a unix socket is reached through the dialer.
func universal(o *redis.Options) *redis.UniversalOptions {
	u := &redis.UniversalOptions{
		Addrs:                   []string{o.Addr},
		ClientName:              o.ClientName,
		DB:                      o.DB,
		Protocol:                o.Protocol,
		Username:                o.Username,
		Password:                o.Password,
		MaxRetries:              o.MaxRetries,
		MinRetryBackoff:         o.MinRetryBackoff,
		MaxRetryBackoff:         o.MaxRetryBackoff,
		DialTimeout:             o.DialTimeout,
		ReadTimeout:             o.ReadTimeout,
		WriteTimeout:            o.WriteTimeout,
		PoolFIFO:                o.PoolFIFO,
		PoolSize:                o.PoolSize,
		PoolTimeout:             o.PoolTimeout,
		MinIdleConns:            o.MinIdleConns,
		MaxIdleConns:            o.MaxIdleConns,
		MaxActiveConns:          o.MaxActiveConns,
		MaxConcurrentDials:      o.MaxConcurrentDials,
		PipelinePoolSize:        o.PipelinePoolSize,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,
		ConnMaxIdleTime:         o.ConnMaxIdleTime,
		ConnMaxLifetime:         o.ConnMaxLifetime,
		ConnMaxLifetimeJitter:   o.ConnMaxLifetimeJitter,
		TLSConfig:               o.TLSConfig,
	}
	if o.Network == "unix" {
		socket := o.Addr
		u.Dialer = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
	}
	return u
}
