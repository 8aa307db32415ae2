#!/usr/bin/env python3
"""Writes the seed corpus of gpt_fuzz (corpus/gpt/).

Each seed is a disk in the target's input format (see gpt_fuzz.cc): a 12-byte
header (block size, flags, block count, prefix length), the disk's first
blocks, then its last blocks. The tables are real GPTs with valid CRCs.
"""
import os
import struct
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "gpt")
SIZES = {512: 0, 1024: 1, 2048: 2, 4096: 3}
ESP = bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")
LINUX = bytes.fromhex("af3dc60f838472478e793d69d8477de4")


def entry(type_guid, first, last, name, unique=b"\x11" * 16, attributes=0, size=128):
    name_bytes = name.encode("utf-16-le") if isinstance(name, str) else name
    e = type_guid + unique + struct.pack("<QQQ", first, last, attributes)
    e += name_bytes[:72].ljust(72, b"\0")
    return e.ljust(size, b"\0")


def header(my_lba, alternate, first_usable, last_usable, entries_lba, count, entry_size,
           entries_crc):
    h = bytearray(b"EFI PART" + struct.pack("<IIIIQQQQ", 0x10000, 92, 0, 0, my_lba, alternate,
                                            first_usable, last_usable))
    h += b"\xd1" * 16 + struct.pack("<QIII", entries_lba, count, entry_size, entries_crc)
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)))
    return bytes(h)


def protective_mbr(block_size, block_count):
    mbr = bytearray(block_size)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                               min(block_count - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def disk(block_size, block_count, partitions, count=16, entry_size=128, mbr=None):
    """Returns (blocks dict lba -> bytes) for a whole GPT: MBR, both copies."""
    array = b"".join(partitions).ljust(count * entry_size, b"\0")
    array_blocks = -(-len(array) // block_size)
    first_usable = 2 + array_blocks
    last_usable = block_count - 2 - array_blocks
    crc = zlib.crc32(array)
    blocks = {0: mbr if mbr is not None else protective_mbr(block_size, block_count)}
    primary = header(1, block_count - 1, first_usable, last_usable, 2, count, entry_size, crc)
    backup_entries = block_count - 1 - array_blocks
    backup = header(block_count - 1, 1, first_usable, last_usable, backup_entries, count,
                    entry_size, crc)
    blocks[1] = primary.ljust(block_size, b"\0")
    blocks[block_count - 1] = backup.ljust(block_size, b"\0")
    for i in range(array_blocks):
        chunk = array[i * block_size:(i + 1) * block_size].ljust(block_size, b"\0")
        blocks[2 + i] = chunk
        blocks[backup_entries + i] = chunk
    return blocks, first_usable, last_usable


def encode(block_size, block_count, blocks, prefix_blocks, suffix_blocks, flags=0):
    prefix = b"".join(blocks.get(lba, bytes(block_size)) for lba in range(prefix_blocks))
    suffix = b"".join(blocks.get(lba, bytes(block_size))
                      for lba in range(block_count - suffix_blocks, block_count))
    head = struct.pack("<BBQH", SIZES[block_size], flags, block_count, len(prefix))
    return head + prefix + suffix


def corrupt(block, offset, value=b"\xff"):
    return block[:offset] + value + block[offset + len(value):]


def seeds():
    bs, n = 512, 128
    parts = [entry(ESP, 6, 40, "boot"), entry(LINUX, 41, 41, "a"), b"\0" * 128,
             entry(LINUX, 60, 121, "data", attributes=1 << 63)]
    blocks, _, _ = disk(bs, n, parts)
    yield "valid_512", encode(bs, n, blocks, 6, 5)
    # Primary header CRC broken: the backup is used.
    broken = {**blocks, 1: corrupt(blocks[1], 16)}
    yield "primary_crc_backup_used", encode(bs, n, broken, 6, 5)
    # Both copies damaged differently.
    both = {**broken, n - 1: corrupt(blocks[n - 1], 12, b"\x10")}
    yield "both_damaged", encode(bs, n, both, 6, 5)
    # Overlapping partitions, resealed by the target (flags 1 and 2).
    overlap, _, _ = disk(bs, n, [entry(LINUX, 6, 50, "x"), entry(LINUX, 50, 60, "y")])
    yield "overlap_resealed", encode(bs, n, overlap, 6, 5, flags=3)
    # A partition outside the usable LBAs, and one that ends before it starts.
    outside, _, _ = disk(bs, n, [entry(LINUX, 2, 10, "x"), entry(LINUX, 30, 20, "y")])
    yield "outside_usable", encode(bs, n, outside, 6, 5)
    # A legacy MBR (signature, no 0xEE partition) in front of a GPT.
    legacy = bytearray(bs)
    legacy[446 + 4] = 0x83
    legacy[510:512] = b"\x55\xaa"
    yield "legacy_mbr", encode(bs, n, {**blocks, 0: bytes(legacy)}, 6, 5)
    # No GPT at all.
    yield "empty_disk", encode(bs, n, {}, 2, 1)
    # The second read (the primary header) fails.
    yield "read_error", encode(bs, n, blocks, 6, 5, flags=0x20)
    # Geometry the parser refuses before reading: 2^63 blocks.
    yield "huge_block_count", struct.pack("<BBQH", 0, 4, 1 << 63, 0)
    # 4 KiB blocks: the whole entry array in one block.
    big, _, _ = disk(4096, 64, [entry(ESP, 3, 10, "esp"), entry(LINUX, 11, 61, "root")])
    yield "valid_4096", encode(4096, 64, big, 3, 2)
    # Names with a surrogate pair, a lone surrogate and no terminator.
    names = [entry(LINUX, 6, 7, "\U0001F600x".encode("utf-16-le")),
             entry(LINUX, 8, 9, b"\x00\xd8a\x00"), entry(LINUX, 10, 11, b"\x41\x00" * 36)]
    named, _, _ = disk(bs, n, names)
    yield "utf16_names", encode(bs, n, named, 6, 5)
    # A tiny disk (8 blocks, 4 entries): prefix and suffix overlap.
    tiny, _, _ = disk(bs, 8, [entry(LINUX, 3, 4, "t")], count=4)
    yield "tiny_disk", encode(bs, 8, tiny, 8, 0)
    # Regression: no entries, and an entry LBA far past the disk, which the
    # parser read (0 bytes at a wrapped offset) before it skipped empty arrays.
    empty_far = {0: protective_mbr(bs, n),
                 1: header(1, n - 1, 2, n - 2, 1 << 40, 0, 128, 0).ljust(bs, b"\0")}
    yield "regress_empty_array_far_lba", encode(bs, n, empty_far, 2, 0)
    # Larger entries: 8 of 256 bytes.
    wide, _, _ = disk(bs, n, [entry(LINUX, 10, 20, "w", size=256)], count=8, entry_size=256)
    yield "entry_size_256", encode(bs, n, wide, 6, 5)


os.makedirs(HERE, exist_ok=True)
for name, data in seeds():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
