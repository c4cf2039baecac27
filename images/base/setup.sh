#!/bin/sh
# Runs INSIDE the debootstrapped rootfs (chroot) and turns it into a stand-in for the official
# python:3.11-slim-bookworm image: `python`, `python3`, `pip`, `pip3` in /usr/local/bin (where the
# official image has them), pip installing into /usr/local/lib/python3.11/site-packages.
set -eu
# /usr/local becomes a venv over Debian's python3.11 (its ensurepip brings pip): console scripts of
# `pip install` land in /usr/local/bin like in the official image, and Debian's "externally managed"
# marker does not apply inside a venv.
python3.11 -m venv /usr/local
ln -sf python3.11 /usr/local/bin/python3
ln -sf python3 /usr/local/bin/python
ln -sf pip3 /usr/local/bin/pip
rm -f /usr/local/bin/activate /usr/local/bin/activate.csh /usr/local/bin/activate.fish /usr/local/bin/Activate.ps1
/usr/local/bin/python --version
/usr/local/bin/pip --version
# Same trimming the official slim image does: no apt lists, no caches, no docs.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/* \
  /usr/share/doc/* /usr/share/man/* /usr/share/info/* /root/.cache
