package standalone

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// TestProviderExamples: each provider example the README links loads
// without a warning, with the environment it names, and compiles to a
// backend of its schema with its credential.
func TestProviderExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/providers/*.yaml")
	require.NoError(t, err)
	schemas := map[string]config.SchemaName{
		"openai.yaml": config.SchemaOpenAI, "azure-openai.yaml": config.SchemaAzureOpenAI, "anthropic.yaml": config.SchemaAnthropic,
		"bedrock.yaml": config.SchemaAWSBedrock, "aws-anthropic.yaml": config.SchemaAWSAnthropic, "vertex-gemini.yaml": config.SchemaGCPVertexAI,
		"vertex-anthropic.yaml": config.SchemaGCPAnthropic, "cohere.yaml": config.SchemaCohere,
	}
	require.Len(t, files, len(schemas), "one example per schema")
	env := map[string]string{"OPENAI_API_KEY": "sk", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s",
		"ANTHROPIC_API_KEY": "sk-ant", "GCP_PROJECT": "p", "COHERE_API_KEY": "co"}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			l := &Loader{LookupEnv: lookupIn(env)}
			res, err := l.Load(context.Background(), f)
			require.NoError(t, err)
			require.Empty(t, res.Warnings)
			require.Len(t, res.Config.Backends, 1)
			b := res.Config.Backends[0]
			require.NotNil(t, b.Auth, "every example holds a credential")
			require.Equal(t, schemas[filepath.Base(f)], b.Schema.Name)
		})
	}
}
