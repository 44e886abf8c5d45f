// Package kpl reads and writes the aggregated record format of the Kinesis
// Producer Library (KPL).
//
// A KPL aggregate is one Kinesis record that carries many user records:
//
//	F3 89 9A C2                 magic bytes
//	AggregatedRecord protobuf   the user records and their partition keys
//	16 bytes                    MD5 of the protobuf bytes
//
// with the protobuf messages
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// The protobuf is encoded and decoded by hand with protowire, so the package
// needs no generated code. Deaggregate validates a whole aggregate (magic, MD5,
// protobuf structure, table indices) before it hands out the first user
// record, so a corrupt aggregate yields either every user record or none.
// Aggregator packs user records into aggregates that fit a Kinesis record.
//
// A user record is addressed by the Kinesis sequence number of its aggregate
// and its sub-sequence number: its index among the aggregate's records,
// counted from 0.
package kpl
