package lql

import (
	"fmt"
	"strings"
)

// Validate checks a selector semantically (spec §3.8) and returns the first
// problem as a *ParseError. Unlike the reference it also rejects any field
// that is non-empty and does not start with '/', which is lockd's
// invalid_selector rule (spec §8); "" and "/" are the root and stay legal.
// The text parsers call it; callers that decode a JSON AST should call it
// before evaluating.
func (s Selector) Validate() error {
	if err := validateNode(&s); err != nil {
		return &ParseError{Pos: -1, Msg: err.Error()}
	}
	return nil
}

func checkField(f string) error {
	f = strings.TrimSpace(f)
	if f != "" && f[0] != '/' {
		return fmt.Errorf("selector field %q must start with '/'", f)
	}
	return nil
}

func validateNode(s *Selector) error {
	for _, nt := range [...]struct {
		name string
		t    *Term
	}{{"eq", s.Eq}, {"contains", s.Contains}, {"icontains", s.IContains}, {"prefix", s.Prefix}, {"iprefix", s.IPrefix}} {
		if nt.t != nil {
			if err := validateTerm(nt.name, nt.t); err != nil {
				return err
			}
		}
	}
	if s.Range != nil {
		if err := validateRange(s.Range); err != nil {
			return err
		}
	}
	if s.Date != nil {
		if err := validateDate(s.Date); err != nil {
			return err
		}
	}
	if s.In != nil {
		if err := validateIn(s.In); err != nil {
			return err
		}
	}
	if err := checkField(s.Exists); err != nil {
		return err
	}
	if s.Not != nil {
		if err := validateNode(s.Not); err != nil {
			return err
		}
	}
	for i := range s.And {
		if err := validateNode(&s.And[i]); err != nil {
			return err
		}
	}
	for i := range s.Or {
		if err := validateNode(&s.Or[i]); err != nil {
			return err
		}
	}
	return nil
}

func validateTerm(name string, t *Term) error {
	if strings.TrimSpace(t.Field) == "" {
		return fmt.Errorf("term field required")
	}
	if err := checkField(t.Field); err != nil {
		return err
	}
	if len(t.Any) > 0 {
		if name == "eq" || name == "prefix" || name == "iprefix" {
			return fmt.Errorf("%s selector does not support key \"any\"", name)
		}
		if t.HasValue() {
			return fmt.Errorf("%s selector cannot set both value and any", name)
		}
		for _, a := range t.Any {
			if a == "" {
				return fmt.Errorf("term any requires values")
			}
		}
	}
	return nil
}

func validateRange(r *RangeTerm) error {
	if strings.TrimSpace(r.Field) == "" {
		return fmt.Errorf("range field required")
	}
	if err := checkField(r.Field); err != nil {
		return err
	}
	bounds := [...]*Bound{r.GT, r.GTE, r.LT, r.LTE}
	nums, times := 0, 0
	for _, b := range bounds {
		switch {
		case b == nil:
		case b.IsTime():
			times++
		default:
			nums++
		}
	}
	switch {
	case nums+times == 0:
		return fmt.Errorf("range selector requires at least one bound")
	case nums > 0 && times > 0:
		return fmt.Errorf("range selector cannot mix numeric and datetime bounds")
	}
	for _, b := range bounds {
		if b != nil && b.IsTime() {
			if _, ok := parseTemporal(b.Time); !ok {
				return fmt.Errorf("range selector datetime bound %q invalid", b.Time)
			}
		}
	}
	return nil
}

func validateDate(d *DateTerm) error {
	if strings.TrimSpace(d.Field) == "" {
		return fmt.Errorf("date selector field required")
	}
	if err := checkField(d.Field); err != nil {
		return err
	}
	switch {
	case d.After != "" && d.GT != "":
		return fmt.Errorf("date selector cannot set both after and gt")
	case d.Before != "" && d.LT != "":
		return fmt.Errorf("date selector cannot set both before and lt")
	case d.Since != "" && (d.After != "" || d.GT != "" || d.GTE != ""):
		return fmt.Errorf("date selector since cannot be combined with after/gt/gte")
	}
	if d.Value != "" {
		if _, ok := parseTemporal(d.Value); !ok {
			return fmt.Errorf("date selector value %q invalid", d.Value)
		}
	}
	for _, b := range [...]string{d.After, d.Before, d.GT, d.GTE, d.LT, d.LTE} {
		if b == "" {
			continue
		}
		if _, ok := parseTemporal(b); !ok {
			return fmt.Errorf("date selector bound %q invalid", b)
		}
	}
	if d.Since != "" && !isSinceMacro(d.Since) {
		if _, ok := parseTemporal(d.Since); !ok {
			return fmt.Errorf("date selector since %q invalid", d.Since)
		}
	}
	if d.Value == "" && d.Since == "" && d.After == "" && d.Before == "" &&
		d.GT == "" && d.GTE == "" && d.LT == "" && d.LTE == "" {
		return fmt.Errorf("date selector requires at least one comparator")
	}
	return nil
}

func validateIn(in *InTerm) error {
	if strings.TrimSpace(in.Field) == "" {
		return fmt.Errorf("in selector field required")
	}
	if err := checkField(in.Field); err != nil {
		return err
	}
	if len(in.Any) == 0 {
		return fmt.Errorf("in selector requires at least one any value")
	}
	for _, a := range in.Any {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("in selector requires non-empty any values")
		}
	}
	return nil
}
