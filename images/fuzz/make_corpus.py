#!/usr/bin/python3
"""Writes the hostile-layer corpus replayed by layer_fuzz (run from images/fuzz/).

Each file is one layer: path traversal, symlink-then-write, hard links out, absurd sizes,
truncated gzip/zstd, bad checksums, pax abuse, whiteouts through symlinks, plus a few
well-formed layers so the fuzzer has valid structure to mutate."""
import gzip, io, os, subprocess, tarfile

OUT = "corpus"
os.makedirs(OUT, exist_ok=True)


def octal(value, size):
    return ("%0*o" % (size - 1, value)).encode() + b"\0"


def header(name, kind=b"0", size=0, link="", mode=0o644, size_field=None, prefix=""):
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100].encode()
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(1700000000, 12)
    h[148:156] = b" " * 8
    h[156:157] = kind
    h[157:157 + len(link[:100])] = link[:100].encode()
    h[257:265] = b"ustar\x0000"
    h[345:345 + len(prefix)] = prefix.encode()
    h[148:155] = ("%06o" % sum(h)).encode() + b"\0"
    return bytes(h)


def entry(name, kind=b"0", data=b"", link="", **kw):
    pad = (512 - len(data) % 512) % 512
    return header(name, kind, len(data), link, **kw) + data + b"\0" * pad


END = b"\0" * 1024


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


ok = entry("dir/", b"5", mode=0o755) + entry("dir/file", data=b"hello") + \
    entry("dir/link", b"2", link="file") + entry("dir/hard", b"1", link="dir/file") + END
write("valid.tar", ok)
write("valid.tar.gz", gzip.compress(ok))
try:
    write("valid.tar.zst", subprocess.run(["zstd", "-q", "-c"], input=ok, capture_output=True,
                                          check=True).stdout)
except (OSError, subprocess.CalledProcessError):
    pass
write("traversal_dotdot.tar", entry("../../../tmp/haneul-escape", data=b"x") + END)
write("traversal_nested.tar", entry("a/b/../../../escape", data=b"x") + END)
write("absolute.tar", entry("/tmp/haneul-escape-abs", data=b"x") + END)
write("symlink_then_write.tar",
      entry("evil", b"2", link="/tmp") + entry("evil/haneul-escape-link", data=b"x") + END)
write("symlink_relative_then_write.tar",
      entry("up", b"2", link="../../../../../../tmp") + entry("up/haneul-escape-rel", data=b"x") + END)
write("symlink_chain.tar",
      entry("a", b"2", link="b") + entry("b", b"2", link="/") + entry("a/tmp/haneul-escape-chain", data=b"x") + END)
write("hardlink_out.tar", entry("h", b"1", link="../../../etc/passwd") + END)
write("hardlink_abs.tar", entry("h", b"1", link="/etc/passwd") + END)
write("hardlink_via_symlink.tar",
      entry("l", b"2", link="/etc") + entry("h", b"1", link="l/passwd") + END)
write("whiteout_via_symlink.tar",
      entry("l", b"2", link="/tmp") + entry("l/.wh.important", data=b"") + END)
write("whiteout_dotdot.tar", entry(".wh...", data=b"") + entry("a/.wh..wh..opq") + END)
write("absurd_size.tar", header("big", size_field=octal(0o77777777777, 12)) + END)
write("absurd_size_base256.tar", header("big", size_field=b"\x80" + b"\x7f" * 11) + END)
write("negative_base256.tar", header("neg", size_field=b"\xff" * 12) + END)
write("absurd_pax.tar", header("p", b"x", size_field=octal(1 << 33, 12)) + END)
write("bad_pax_record.tar", entry("p", b"x", data=b"999999 path=x\n") + entry("f", data=b"1") + END)
write("pax_dotdot.tar", entry("p", b"x", data=b"24 path=../../escape-pax\n") + entry("f", data=b"1") + END)
write("gnu_longname_dotdot.tar", entry("././@LongLink", b"L", data=b"../../escape-gnu\0") + entry("f", data=b"1") + END)
write("bad_checksum.tar", b"X" + ok[1:])
big = entry("file", data=b"y" * 200000) + END
gz = gzip.compress(big)
write("truncated.tar.gz", gz[: len(gz) // 2])
write("truncated_trailer.tar.gz", gz[:-4])
write("truncated_tar.tar", big[:1000])
write("device_and_fifo.tar", entry("dev/sda", b"4") + entry("fifo", b"6") + entry("char", b"3") + END)
write("deep_nesting.tar", entry("/".join(["d"] * 1500) + "/f", data=b"x") + END)
deep = ("d/" * 300 + "f").encode()
write("deep_pax_path.tar", entry("p", b"x", data=(b"%d path=" % (len(deep) + 10)) + deep + b"\n")
      + entry("f", data=b"1") + END)
write("many_metadata.tar", b"".join(entry("x", b"x", data=b"9 a=bcd\n") for _ in range(100)) + END)
write("empty", b"")
