package query

import (
	"bytes"
	"context"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// projection keeps only the requested JSON Pointer paths of returned
// documents, with lql's projection rules (spec §6).
type projection struct {
	plan *lql.ProjectionPlan
}

// newProjection parses the fields of a query; no fields mean no projection.
func newProjection(fields []string) (*projection, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	plan, err := lql.NewProjectionPlan(fields)
	if err != nil {
		return nil, newError(api.ErrCodeInvalidFields, "%s", err.Error())
	}
	return &projection{plan: plan}, nil
}

// apply projects doc. A document holding none of the paths, or one that is
// not an object, projects to {}: the row still says the key matched.
func (p *projection) apply(ctx context.Context, doc []byte) []byte {
	if p == nil {
		return doc
	}
	var out bytes.Buffer
	found, err := lql.ProjectFields(ctx, bytes.NewReader(doc), &out, p.plan, lql.ProjectOptions{})
	if err != nil || !found {
		return []byte("{}")
	}
	return out.Bytes()
}
