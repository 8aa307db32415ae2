#!/usr/bin/env python3
"""Writes the seed corpus of split_queue_fuzz (corpus/split_queue/).

Each seed is a program in the target's input format (see split_queue_fuzz.cc):
a header (size exponent, flags[, indirect max]) then opcodes with operands.
"""
import os

ADD, POLL, USED_ELEM, USED_IDX, HINTS, NOTIFY, CALLBACKS, POP, PUSH, DESC, AVAIL, CALL = range(12)
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "split_queue")


def add(n_out, n_in):
    out = [ADD, n_out + 5 * n_in]
    for i in range(n_out + n_in):
        out += [i * 4, 16]
    return out


def seeds():
    # Round trip on a size-8 queue, no features.
    yield "roundtrip", [3, 0] + add(1, 1) + [POP, PUSH, 0, 0, 8, POLL]
    # EVENT_IDX and indirect tables of up to 4 descriptors.
    yield "event_idx_indirect", [3, 3, 3] + add(2, 1) + add(1, 0) + [NOTIFY, POP, POP] + \
        [PUSH, 0, 0, 4, PUSH, 0, 0, 0, CALL, 0, POLL, CALLBACKS, 0]
    # Each misbehaviour of our device on a 3-request queue.
    for m in range(1, 7):
        yield f"hostile_{m}", [3, 1] + add(1, 1) * 3 + [POP] * 3 + \
            [PUSH, 0, 0, 2, POLL, PUSH, 0, m, 3, POLL]
    # A used ring written by hand: an element, then used->idx moves.
    yield "garbage_used", [2, 0] + add(0, 1) * 2 + [USED_ELEM, 0, 0, 0, 0, 0, 4, USED_IDX, 1, POLL]
    # A hostile driver: a descriptor looping to itself, then popped.
    yield "desc_loop", [3, 0] + add(1, 0) + [DESC, 0, 0, 0, 0, 0, 8, 1, 0, 0, POP]


os.makedirs(HERE, exist_ok=True)
for name, data in seeds():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(bytes(data))
