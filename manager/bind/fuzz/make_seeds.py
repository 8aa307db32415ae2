#!/usr/bin/env python3
"""Writes the seed corpus of bind_rules_fuzz (corpus/bind_rules/).

Each seed is a program in the target's input format (see bind_rules_fuzz.cc):
properties, then candidates with their rules. Keys, values and names are
indices into the target's tables.
"""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "bind_rules")

# Key table indices.
COMPATIBLE, DEVICE_ID, TEST, EMPTY, LOWER_K, UPPER_K, ODD = range(7)
RAW = 0xFF  # raw key bytes follow: length, bytes


def int_value(n):  # n in -1..3
    return [0, n + 1]


def string_value(i):  # "trellis,echo", "3", "", "x\x7f\xff", "X"
    return [1, i]


def bool_value(b):
    return [2, int(b)]


NO_VALUE = [3]


def prop(key, value):
    return [key] + value


def rule(key, *values):
    out = [key, len(values)]
    for v in values:
        out += v
    return out


def candidate(name, accept=(), reject=(), priority=2, fallback=False, disabled=False,
              no_rules=False, raw_priority=None):
    flags = int(fallback) | int(disabled) << 1 | len(accept) << 2 | len(reject) << 4
    if no_rules:
        flags |= 0xC0
    out = [flags, priority]
    if raw_priority is not None:  # any int32, little-endian
        out = [flags, 0xF0] + list((raw_priority & 0xFFFFFFFF).to_bytes(4, "little"))
    for r in accept:
        out += r
    for r in reject:
        out += r
    return out + [name]


def program(props, candidates):
    out = [len(props)]
    for p in props:
        out += p
    out.append(len(candidates) - 1)
    for c in candidates:
        out += c
    return out


def seeds():
    echo = [prop(COMPATIBLE, string_value(0)), prop(DEVICE_ID, int_value(2))]
    yield "one_match", program(echo, [candidate(0, accept=[rule(COMPATIBLE, string_value(0))])])
    # Higher priority wins; the loser is named.
    yield "priority", program(echo, [
        candidate(0, accept=[rule(DEVICE_ID, int_value(2))], priority=3),
        candidate(1, accept=[rule(COMPATIBLE)], priority=4)])
    # Equal priority: name order, then input order.
    yield "name_order", program(echo, [
        candidate(2, accept=[rule(COMPATIBLE)]), candidate(0, accept=[rule(COMPATIBLE)]),
        candidate(0, accept=[rule(DEVICE_ID)])])
    # A fallback is used only when nothing else matches.
    yield "fallback", program(echo, [
        candidate(3, fallback=True), candidate(1, accept=[rule(TEST)])])
    yield "fallback_not_needed", program(echo, [
        candidate(3, fallback=True), candidate(1, accept=[rule(COMPATIBLE)])])
    # Reject rules, type mismatches ("3" never equals 3) and unset values.
    yield "reject_and_types", program(echo + [prop(TEST, bool_value(True))], [
        candidate(0, accept=[rule(DEVICE_ID, string_value(1), NO_VALUE)]),
        candidate(1, reject=[rule(TEST, bool_value(True))]),
        candidate(2, reject=[rule(TEST, bool_value(False))])])
    # Disabled drivers and one with no rules at all.
    yield "disabled", program(echo, [
        candidate(0, disabled=True), candidate(1, no_rules=True),
        candidate(2, no_rules=True, disabled=True)])
    # A property key twice, an empty key, a raw binary key and a raw value.
    yield "odd_keys", program([
        prop(LOWER_K, int_value(0)), prop(LOWER_K, int_value(1)), prop(EMPTY, NO_VALUE),
        [RAW, 3, 0x00, 0xFF, 0x22] + [1, 0xFF, 2, 0x0A, 0x80]], [
        candidate(0, accept=[rule(LOWER_K, int_value(1))], reject=[rule(UPPER_K)]),
        candidate(1, accept=[rule(ODD, string_value(3)), rule(EMPTY)])])
    # Raw priorities: INT32 extremes.
    yield "raw_priority", program(echo, [
        candidate(0, raw_priority=-2**31), candidate(1, raw_priority=2**31 - 1),
        candidate(2, raw_priority=2**31 - 1)])


os.makedirs(HERE, exist_ok=True)
for name, data in seeds():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(bytes(data))
