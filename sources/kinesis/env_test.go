package kinesis

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
)

// TestLoadClient reaches kinesalite through the standard AWS configuration:
// the generic and the Kinesis-specific endpoint variables, and a profile.
func TestLoadClient(t *testing.T) {
	srv := testenv.Kinesalite(t)
	testenv.CreateStream(t, srv.Client, "env", 2)
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(config, []byte("[profile dev]\nregion = us-east-1\nendpoint_url = "+srv.Endpoint()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[dev]\naws_access_key_id = x\naws_secret_access_key = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"AWS_ENDPOINT_URL_KINESIS", map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
			"AWS_ENDPOINT_URL_KINESIS": srv.Endpoint(), "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
			"AWS_ENDPOINT_URL": srv.Endpoint()}},
		{"AWS_PROFILE", map[string]string{"AWS_PROFILE": "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
				"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			t.Setenv("AWS_CONFIG_FILE", config)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			client, err := LoadClient(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			src, err := New(t.Context(), Config{Stream: "env", Client: client})
			if err != nil {
				t.Fatal(err)
			}
			shards, err := src.Shards(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := []pipeline.Shard{{ID: "shardId-000000000000"}, {ID: "shardId-000000000001"}}
			if !reflect.DeepEqual(shards, want) {
				t.Fatalf("Shards = %v, want %v", shards, want)
			}
		})
	}
	t.Run("no region", func(t *testing.T) {
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "missing"))
		t.Setenv("AWS_REGION", "")
		os.Unsetenv("AWS_REGION")
		t.Setenv("AWS_DEFAULT_REGION", "")
		os.Unsetenv("AWS_DEFAULT_REGION")
		t.Setenv("AWS_PROFILE", "")
		os.Unsetenv("AWS_PROFILE")
		if _, err := LoadClient(t.Context()); err == nil {
			t.Fatal("LoadClient without a region succeeded")
		}
	})
}
