// Package rowjson encodes the rows of Arrow record batches as JSON objects,
// one key per column in schema order, for the sinks that write rows as JSON
// (sinks/jsonl, sinks/kinesis).
//
// An Encoder is made once per schema and bound to each batch: Bind picks one
// append function per column, so encoding a row is a loop over the columns
// with no type switch and no allocation.
//
// # Values
//
//   - string: a JSON string, escaped as encoding/json escapes it (control
//     characters, '"', '\\', '<', '>', '&', U+2028 and U+2029; invalid UTF-8
//     becomes U+FFFD).
//   - binary: valid UTF-8 is written as a string under the column's name;
//     anything else is written base64-encoded (standard alphabet, padded) under
//     the column's name + "_base64". Exactly one of the two keys appears per
//     row, and NewEncoder rejects schemas in which the extra key clashes with a
//     column.
//   - int8 to int64, uint8 to uint64: numbers; bool: true or false.
//   - float32, float64: the shortest decimal that reads back to the same
//     float; NaN and infinities are null.
//   - timestamp: an RFC 3339 string in UTC with the unit's precision
//     ("2026-01-01T00:00:00.000Z" for milliseconds, no fraction for seconds).
//   - date32: "YYYY-MM-DD".
//   - null of any type: null.
//   - anything else (lists, structs, decimals, ...): arrow-go's JSON form of
//     the value, which allocates.
package rowjson
