#!/usr/bin/env bash
# A Vulkan device for the wgpu backend's tests, idempotently: the machine's own driver when it has
# one, else Mesa's software one (lavapipe, Debian's mesa-vulkan-drivers), installed as root with apt.
# Fails loudly when neither can be had: the device tests do not skip themselves.
set -euo pipefail
if compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null || compgen -G "/etc/vulkan/icd.d/*.json" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  echo "installed mesa-vulkan-drivers (lavapipe, a Vulkan device on the CPU)"
else
  echo "error: no Vulkan driver, and mesa-vulkan-drivers cannot be installed here (not root with apt);" \
    "install it (or a GPU's Vulkan driver) to run the wgpu tests" >&2
  exit 1
fi
