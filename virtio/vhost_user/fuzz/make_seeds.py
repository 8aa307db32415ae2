#!/usr/bin/env python3
"""Writes the seed corpus of vhost_user_reply_fuzz (corpus/vhost_user_reply/).

Each seed is one reply in the target's input format (see
vhost_user_reply_fuzz.cc): request selector, 12-byte header, GET_CONFIG
offset and size, payload. Numbers are native (little-endian) byte order.
"""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vhost_user_reply")

# Selector values: indices into the target's kRequests table.
GET_FEATURES, SET_FEATURES, GET_VRING_BASE, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_CONFIG = \
    0, 1, 10, 14, 16, 18
NUMBERS = {GET_FEATURES: 1, SET_FEATURES: 2, GET_VRING_BASE: 11, GET_PROTOCOL_FEATURES: 15,
           GET_QUEUE_NUM: 17, GET_CONFIG: 24}
VERSION, REPLY, NEED_REPLY = 0x1, 0x4, 0x8


def reply(selector, payload=b"", flags=VERSION | REPLY, request=None, size=None,
          config_offset=0, config_size=0, raw=None):
    out = bytes([selector])
    if raw is not None:
        out += struct.pack("<I", raw)
    if request is None:
        request = raw if raw is not None else NUMBERS[selector]
    out += struct.pack("<III", request, flags, len(payload) if size is None else size)
    return out + struct.pack("<IH", config_offset, config_size) + payload


def config_payload(offset, size, fill=b"\xab"):
    return struct.pack("<III", offset, size, 0) + fill * size


def seeds():
    yield "get_features", reply(GET_FEATURES, struct.pack("<Q", 1 << 30 | 1 << 32))
    yield "get_protocol_features", reply(GET_PROTOCOL_FEATURES, struct.pack("<Q", 0x209))
    yield "get_queue_num", reply(GET_QUEUE_NUM, struct.pack("<Q", 4))
    yield "get_vring_base", reply(GET_VRING_BASE, struct.pack("<II", 0, 17))
    # A REPLY_ACK ack that echoes need_reply, as libvhost-user does.
    yield "set_features_ack", reply(SET_FEATURES, struct.pack("<Q", 0),
                                    flags=VERSION | REPLY | NEED_REPLY)
    yield "get_config", reply(GET_CONFIG, config_payload(0, 60), config_size=60)
    yield "get_config_offset", reply(GET_CONFIG, config_payload(20, 8), config_offset=20,
                                     config_size=8)
    # libvhost-user's refusal: an empty GET_CONFIG reply.
    yield "get_config_refused", reply(GET_CONFIG, config_size=60)
    # The backend echoes another offset and size than asked.
    yield "get_config_mismatch", reply(GET_CONFIG, config_payload(4, 8), config_size=8)
    yield "wrong_version", reply(GET_FEATURES, struct.pack("<Q", 1), flags=0x2 | REPLY)
    yield "no_reply_flag", reply(GET_FEATURES, struct.pack("<Q", 1), flags=VERSION)
    yield "other_request", reply(GET_FEATURES, struct.pack("<Q", 1), request=99)
    yield "short_payload", reply(GET_VRING_BASE, b"\x01\x02\x03\x04")
    yield "size_lies", reply(GET_FEATURES, struct.pack("<Q", 1), size=0xFFFFFFFF)
    yield "unknown_request", reply(0xFF, struct.pack("<Q", 7), raw=0xDEADBEEF)


os.makedirs(HERE, exist_ok=True)
for name, data in seeds():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
