package generator

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// NumUsers is the number of distinct user_id values. User u belongs to shard
// u % Shards, so every user's events stay in one shard and in order there.
const NumUsers = 10000

// ClickstreamSchema is the Arrow schema of the generator's events, for a job's
// JSON decoder. price is null on page_view events.
var ClickstreamSchema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.BinaryTypes.String},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "referrer", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// Event types and their shares.
const (
	PageView  = "page_view"   // ~80%
	AddToCart = "add_to_cart" // ~15%
	Purchase  = "purchase"    // ~5%
)

// sessionLength groups a user's events into sessions of event time.
const sessionLength = 30 * 60 * 1000 // ms

// products are the product pages with their prices in cents.
var products = [...]struct {
	page  string
	cents int64
}{
	{"/product/101", 1999}, {"/product/102", 2499}, {"/product/103", 4999},
	{"/product/104", 899}, {"/product/105", 12900}, {"/product/106", 3450},
	{"/product/107", 7999}, {"/product/108", 1575}, {"/product/109", 24900},
	{"/product/110", 599},
}

// otherPages are the non-product pages of page views, most visited first.
var otherPages = [...]string{
	"/", "/search", "/category/shoes", "/category/electronics", "/cart",
	"/category/shirts", "/category/home", "/account", "/checkout", "/help",
}

// referrers are drawn for every event, most frequent first; "" is direct traffic.
var referrers = [...]string{
	"", "https://www.google.com/", "https://www.facebook.com/", "https://t.co/",
	"https://www.bing.com/", "https://news.ycombinator.com/",
}

// userIDLen is the length of every user_id, "u0000" to "u9999".
const userIDLen = 5

// userIDs holds the user_id strings back to back, so that a record costs no
// string allocation and the garbage collector has no slice of strings to
// scan at every cycle.
var userIDs = func() string {
	var b []byte
	for u := range NumUsers {
		id := "u" + pad4(u)
		if len(id) != userIDLen {
			panic("generator: user id " + id + " is not userIDLen long") // NumUsers outgrew 4 digits
		}
		b = append(b, id...)
	}
	return string(b)
}()

// userID returns the user_id of user u.
func userID(u uint64) string { return userIDs[u*userIDLen : (u+1)*userIDLen] }

func pad4(v int) string {
	s := strconv.Itoa(v)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// rng is splitmix64 started from a hash of (seed, shard, index): a
// counter-based generator, so any event can be computed on its own. The
// hash of (seed, shard) is params.shardSeed; the index is mixed in per event.
type rng struct{ state uint64 }

func shardSeed(seed int64, shard int) uint64 {
	h := mix64(uint64(seed) ^ 0x5f0e_d1c5_7a3b_9e21)
	return mix64(h ^ uint64(shard)*0x9e37_79b9_7f4a_7c15)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58_476d_1ce4_e5b9
	z = (z ^ (z >> 27)) * 0x94d0_49bb_1331_11eb
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	r.state += 0x9e37_79b9_7f4a_7c15
	return mix64(r.state)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// below returns a uniform integer in [0, n).
func (r *rng) below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// params are a Config with defaults applied, reduced to what an event needs.
type params struct {
	seed       int64
	shards     int
	startMs    int64
	intervalNs uint64
	intervalMs int64 // intervalNs / 1e6 when whole, else -1
	disorderMs float64
	badEvery   int64
	usersOf    []uint64 // users per shard
	shardSeed  []uint64 // shardSeed(seed, s) per shard
	startSubMs uint64   // Start's nanoseconds below the millisecond
}

func newParams(c Config) params {
	p := params{
		seed:       c.Seed,
		shards:     c.Shards,
		startMs:    c.Start.UnixMilli(),
		startSubMs: uint64(c.Start.Nanosecond() % int(time.Millisecond)),
		intervalNs: uint64(c.EventInterval),
		intervalMs: -1,
		disorderMs: float64(c.MaxDisorder.Milliseconds()),
		badEvery:   c.BadEvery,
		usersOf:    make([]uint64, c.Shards),
		shardSeed:  make([]uint64, c.Shards),
	}
	if p.intervalNs%uint64(time.Millisecond) == 0 && p.startSubMs == 0 {
		p.intervalMs = int64(p.intervalNs / uint64(time.Millisecond))
	}
	for s := range p.usersOf {
		p.usersOf[s] = uint64((NumUsers - s + c.Shards - 1) / c.Shards)
		p.shardSeed[s] = shardSeed(c.Seed, s)
	}
	return p
}

// baseMs is event i's time before disorder: Start + i*EventInterval, in ms.
func (p *params) baseMs(i int64) int64 {
	if p.intervalMs >= 0 {
		return p.startMs + i*p.intervalMs
	}
	hi, lo := bits.Mul64(uint64(i), p.intervalNs)
	lo, carry := bits.Add64(lo, p.startSubMs, 0)
	hi += carry
	if hi >= uint64(time.Millisecond) {
		return math.MaxInt64 / 2 // beyond any representable time; Validate keeps runs far from it
	}
	q, _ := bits.Div64(hi, lo, uint64(time.Millisecond))
	return p.startMs + int64(q)
}

// eventTime is the ts of event i of a shard, in ms.
func (p *params) eventTime(r *rng, i int64) int64 {
	base := p.baseMs(i)
	u := r.float()
	// Most events are on time or nearly, a few are up to disorderMs late.
	// No event is before Start (clamping keeps the disorder bound).
	late := int64(p.disorderMs * u * u * u * u)
	return max(base-late, p.startMs)
}

// appendEvent appends the JSON of event i (0-based) of shard s to dst and
// returns it with the event's partition key (its user_id) and event time.
// It is safe for concurrent use; a shard reader uses an encoder instead.
func (p *params) appendEvent(dst []byte, s int, i int64) ([]byte, string, int64) {
	e := encoder{p: p}
	return e.appendEvent(dst, s, i)
}

// encoder writes events as params.appendEvent does, remembering the date of
// the last event time it wrote, which the next events nearly always share.
// It is not safe for concurrent use.
type encoder struct {
	p        *params
	dayStart int64 // ms of the first millisecond of the cached date
	dayOK    bool
	date     [11]byte // "2006-01-02T" of dayStart

	// id is `{"event_id":"eSSSS-I` of event idI of shard idShard: a reader's
	// next event id is this one's last digits counted up.
	id      [40]byte
	idLen   int
	idShard int
	idI     int64
	idOK    bool
}

// eventID returns the JSON of event i of shard s up to the end of its
// event_id (without the closing quote). The slice is valid until the next call.
func (e *encoder) eventID(s int, i int64) []byte {
	if e.idOK && s == e.idShard && i == e.idI+1 && e.idI >= 0 {
		k := e.idLen - 1
		for e.id[k] == '9' {
			e.id[k] = '0'
			k--
		}
		if e.id[k] != '-' { // else all nines: one digit more, written afresh
			e.id[k]++
			e.idI = i
			return e.id[:e.idLen]
		}
	}
	b := append(e.id[:0], `{"event_id":"e0000-`...)
	put4(b[14:], uint64(s))
	b = strconv.AppendInt(b, i, 10)
	e.idLen, e.idShard, e.idI, e.idOK = len(b), s, i, true
	return b
}

func newEncoder(p *params) *encoder { return &encoder{p: p} }

// maxEventLen is more than the longest event's JSON: dst is grown once.
const maxEventLen = 256

// appendEvent is params.appendEvent. The events are a job's input: they must
// stay byte for byte as they are (TestEncoderMatchesV0 keeps the first
// encoder to compare with).
func (e *encoder) appendEvent(dst []byte, s int, i int64) ([]byte, string, int64) {
	p := e.p
	r := rng{state: mix64(p.shardSeed[s] ^ uint64(i))}
	start := len(dst)

	// Skewed user of this shard: j = m * x^2.5 favours the first users.
	x := r.float()
	m := p.usersOf[s]
	j := uint64(float64(m) * x * x * math.Sqrt(x))
	if j >= m {
		j = m - 1
	}
	user := uint64(s) + j*uint64(p.shards)
	ts := p.eventTime(&r, i)

	kind := r.below(100)
	var look int     // index into looks: event type and page
	var tail string  // the price, if any, and the closing brace
	var cents uint64 // of a purchase
	switch {
	case kind < 80:
		if r.below(2) == 0 {
			look = lookPageViewProduct + skewed(&r, len(products))
		} else {
			look = lookPageViewOther + skewed(&r, len(otherPages))
		}
		tail = "}"
	case kind < 95:
		k := skewed(&r, len(products))
		look = lookAddToCart + k
		tail = productTails[k]
	default:
		look = lookPurchase
		cents = 999 + r.below(49000)
	}
	ref := skewed(&r, len(referrers))

	dst = slices.Grow(dst, maxEventLen)
	dst = append(dst, e.eventID(s, i)...)
	n := len(dst)
	dst = append(dst, `","user_id":"u0000","session_id":"s000000000000`...)
	put4(dst[n+14:], user)
	putHex12(dst[n+35:], mix64(uint64(p.seed)^mix64(user<<32^uint64(floorDiv(ts, sessionLength)))))
	dst = append(dst, looks[look*len(referrers)+ref]...)
	dst = e.appendTime(dst, ts)
	if tail == "" {
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendUint(dst, cents/100, 10)
		n = len(dst)
		dst = append(dst, ".00}"...)
		put2(dst[n+1:], cents%100)
	} else {
		dst = append(dst, tail...)
	}

	if p.badEvery > 0 && (i+1)%p.badEvery == 0 {
		// Malformed: the object cut in half.
		dst = dst[:start+(len(dst)-start)/2]
	}
	return dst, userID(user), ts
}

// appendTime appends ts as appendRFC3339Millis does, and the closing quote.
func (e *encoder) appendTime(dst []byte, ts int64) []byte {
	if !e.dayOK || ts < e.dayStart || ts-e.dayStart >= 86_400_000 {
		e.dayStart = floorDiv(ts, 86_400_000) * 86_400_000
		var buf [40]byte
		b := appendRFC3339Millis(buf[:0], e.dayStart)
		// 24 bytes unless the year is outside 0..9999 (time.Format's layout).
		if e.dayOK = len(b) == 24; !e.dayOK {
			return append(appendRFC3339Millis(dst, ts), '"')
		}
		copy(e.date[:], b)
	}
	rem := uint64(ts - e.dayStart)
	dst = append(dst, e.date[:]...)
	n := len(dst)
	dst = append(dst, `00:00:00.000Z"`...)
	b := dst[n : n+12]
	put2(b[0:], rem/3_600_000)
	put2(b[3:], rem/60_000%60)
	put2(b[6:], rem/1000%60)
	ms := rem % 1000
	b[9] = byte('0' + ms/100)
	put2(b[10:], ms%100)
	return dst
}

// Indexes into looks: the page views of each product, of each other page,
// the add-to-carts of each product, the purchase.
const (
	lookPageViewProduct = 0
	lookPageViewOther   = lookPageViewProduct + len(products)
	lookAddToCart       = lookPageViewOther + len(otherPages)
	lookPurchase        = lookAddToCart + len(products)
	numLooks            = lookPurchase + 1
)

// looks holds, for each look and referrer, the JSON from the end of the
// session id to the start of the time: `","event_type":"page_view","page":"/",
// "referrer":"","ts":"`.
var looks = func() []string {
	s := make([]string, 0, numLooks*len(referrers))
	add := func(typ, page string) {
		for _, ref := range referrers {
			s = append(s, `","event_type":"`+typ+`","page":"`+page+`","referrer":"`+ref+`","ts":"`)
		}
	}
	for _, pr := range products {
		add(PageView, pr.page)
	}
	for _, page := range otherPages {
		add(PageView, page)
	}
	for _, pr := range products {
		add(AddToCart, pr.page)
	}
	add(Purchase, "/checkout")
	return s
}()

// productTails holds the price and the closing brace of each product's add-to-cart.
var productTails = func() []string {
	s := make([]string, len(products))
	for k, pr := range products {
		s[k] = `,"price":` + strconv.FormatInt(pr.cents/100, 10) + "." + pad2(int(pr.cents%100)) + "}"
	}
	return s
}()

func pad2(v int) string { return string([]byte{byte('0' + v/10), byte('0' + v%10)}) }

const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v (< 100) as two digits to b.
func put2(b []byte, v uint64) {
	b[1], b[0] = digits2[2*v+1], digits2[2*v]
}

// put4 writes v (< 10000) as four digits to b.
func put4(b []byte, v uint64) {
	put2(b[2:], v%100)
	put2(b, v/100)
}

// putHex12 writes the low 48 bits of v as 12 hex digits to b.
func putHex12(b []byte, v uint64) {
	const hex = "0123456789abcdef"
	_ = b[11]
	for k := 11; k >= 0; k-- {
		b[k] = hex[v&0xf]
		v >>= 4
	}
}

// skewed returns an index in [0, n) that favours small indexes (x^2).
func skewed(r *rng, n int) int {
	x := r.float()
	return int(x * x * float64(n))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	n := len(buf)
	for v > 0 || n > len(buf)-width {
		n--
		buf[n] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[n:]...)
}

// appendRFC3339Millis appends ms as "2006-01-02T15:04:05.000Z" without
// allocating (time.AppendFormat reparses its layout on every call).
func appendRFC3339Millis(dst []byte, ms int64) []byte {
	days := floorDiv(ms, 86_400_000)
	rem := ms - days*86_400_000
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		return time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	dst = appendPadded(dst, uint64(y), 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, uint64(m), 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, uint64(d), 2)
	dst = append(dst, 'T')
	dst = appendPadded(dst, uint64(rem/3_600_000), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, uint64(rem/60_000%60), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, uint64(rem/1000%60), 2)
	dst = append(dst, '.')
	dst = appendPadded(dst, uint64(rem%1000), 3)
	return append(dst, 'Z')
}
