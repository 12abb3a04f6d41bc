package lql

// Selector is the JSON AST form of an LQL selector (the wire format of the
// lockd /v1/query "selector" member). A node is the conjunction of every
// clause it holds; And/Or/Not compose. The zero Selector matches everything.
//
// When Or is non-empty the node is the disjunction of its branches and every
// other member of the same node is ignored (spec §4.1). The text parser never
// builds such nodes, but a JSON AST can.
type Selector struct {
	And       []Selector `json:"and,omitempty"`
	Or        []Selector `json:"or,omitempty"`
	Not       *Selector  `json:"not,omitempty"`
	Eq        *Term      `json:"eq,omitempty"`
	Contains  *Term      `json:"contains,omitempty"`
	IContains *Term      `json:"icontains,omitempty"`
	Prefix    *Term      `json:"prefix,omitempty"`
	IPrefix   *Term      `json:"iprefix,omitempty"`
	Range     *RangeTerm `json:"range,omitempty"`
	Date      *DateTerm  `json:"date,omitempty"`
	In        *InTerm    `json:"in,omitempty"`
	Exists    string     `json:"exists,omitempty"`
}

// IsEmpty reports whether s holds no clause at all. An empty selector
// matches every candidate.
func (s Selector) IsEmpty() bool {
	return len(s.And) == 0 && len(s.Or) == 0 && s.Not == nil &&
		s.Eq == nil && s.Contains == nil && s.IContains == nil &&
		s.Prefix == nil && s.IPrefix == nil && s.Range == nil &&
		s.Date == nil && s.In == nil && s.Exists == ""
}

// Term is the operand of eq, contains, icontains, prefix and iprefix.
//
// An omitted value and an explicit empty value mean different things for the
// string terms: without Value and Any the term is a path assertion (true as
// soon as the field resolves), while an explicit "" matches every scalar.
// ValueSet records that Value was given even when it is "".
type Term struct {
	Field      string
	Value      string
	ValueSet   bool
	Any        []string
	IgnoreCase bool
}

// HasValue reports whether the term carries a value (possibly the explicit
// empty string).
func (t *Term) HasValue() bool { return t.ValueSet || t.Value != "" }

// Bound is one bound of a range clause: either a number or a datetime
// literal (spec §4.9). Time non-empty marks a datetime bound; Num is then
// unused.
type Bound struct {
	Num  float64
	Time string
}

// NumberBound returns a numeric range bound.
func NumberBound(f float64) *Bound { return &Bound{Num: f} }

// TimeBound returns a datetime range bound.
func TimeBound(s string) *Bound { return &Bound{Time: s} }

// IsTime reports whether b is a datetime bound.
func (b *Bound) IsTime() bool { return b.Time != "" }

// RangeTerm is the operand of range. One clause uses either numeric or
// datetime bounds, never both.
type RangeTerm struct {
	Field string
	GT    *Bound
	GTE   *Bound
	LT    *Bound
	LTE   *Bound
}

// DateTerm is the operand of date. All comparators are temporal literals;
// Since additionally accepts the macros now, today and yesterday.
type DateTerm struct {
	Field  string `json:"field"`
	Value  string `json:"value,omitempty"`
	Since  string `json:"since,omitempty"`
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	GT     string `json:"gt,omitempty"`
	GTE    string `json:"gte,omitempty"`
	LT     string `json:"lt,omitempty"`
	LTE    string `json:"lte,omitempty"`
}

// InTerm is the operand of in: exact, case-sensitive membership of a value's
// string form in Any.
type InTerm struct {
	Field string
	Any   []string
}
