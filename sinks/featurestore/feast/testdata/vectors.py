#!/usr/bin/env python3
# Prints the byte vectors of the stores' Feast-layout tests (redisstore,
# sqlitestore, dynamostore feast_test.go), computed from Feast's documented
# encoding with the standard library only, apart from the Go code: a
# hand-written MurmurHash3 x86_32 (checked against mmh3's published
# hash("foo") and the known hash("hello")), struct.pack for the entity key
# (serialization version 3) and doubles, and a hand-written protobuf varint
# for feast.types.Value and google.protobuf.Timestamp.
#
#   python3 sinks/featurestore/feast/testdata/vectors.py
import struct
def mm32(data, seed=0):
    c1,c2=0xcc9e2d51,0x1b873593
    h=seed; n=len(data); r=n//4
    rotl=lambda x,k:((x<<k)|(x>>(32-k)))&0xffffffff
    for i in range(r):
        k=struct.unpack('<I',data[4*i:4*i+4])[0]
        k=(k*c1)&0xffffffff; k=rotl(k,15); k=(k*c2)&0xffffffff
        h^=k; h=rotl(h,13); h=(h*5+0xe6546b64)&0xffffffff
    t=data[4*r:]; k=0
    if len(t)>=3: k^=t[2]<<16
    if len(t)>=2: k^=t[1]<<8
    if len(t)>=1:
        k^=t[0]; k=(k*c1)&0xffffffff; k=rotl(k,15); k=(k*c2)&0xffffffff; h^=k
    h^=n
    h^=h>>16; h=(h*0x85ebca6b)&0xffffffff; h^=h>>13; h=(h*0xc2b2ae35)&0xffffffff; h^=h>>16
    return h
assert mm32(b"hello")==0x248bfa47 and mm32(b"foo")==4138058784
def field(view,feat): return struct.pack('<I',mm32((view+":"+feat).encode())).hex()
def varint(x):
    x&=(1<<64)-1; b=b''
    while True:
        if x<0x80: return b+bytes([x])
        b+=bytes([(x&0x7f)|0x80]); x>>=7
def ek(k,v):
    k=k.encode(); v=v.encode()
    return struct.pack('<I',1)+struct.pack('<II',2,len(k))+k+struct.pack('<II',2,len(v))+v
import sys
print("field user_stats:clicks", field("user_stats","clicks"))
for f in ["revenue","page","last_seen"]: print("field user_stats:"+f, field("user_stats",f))
print("key u1 proj", (ek("user_id","u1")+b"proj").hex())
# values
print("int 42", (b'\x20'+varint(42)).hex())
print("double 2.5", (b'\x29'+struct.pack('<d',2.5)).hex())
s="/home é".encode(); print("string /home é", (b'\x12'+varint(len(s))+s).hex())
print("unix ts 1700000000 s", (b'\x40'+varint(1700000000)).hex())
ms=1700000000123; sec=ms//1000; ns=(ms%1000)*1000000
print("Timestamp", (b'\x08'+varint(sec)+b'\x10'+varint(ns)).hex())
