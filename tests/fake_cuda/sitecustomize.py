"""Test-only: makes a `nawt` process believe it runs on a CUDA host with N GPUs
(NAWT_TEST_FAKE_CUDA=N), and records the `nawt worker` processes it would start into
NAWT_TEST_LAUNCHES (a JSON-lines file) instead of starting them. Put this folder on
PYTHONPATH to use it; nothing of nawt imports it."""

import os

if os.environ.get("NAWT_TEST_FAKE_CUDA"):
    import json
    import subprocess

    import torch

    _count = int(os.environ["NAWT_TEST_FAKE_CUDA"])
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: _count
    # what the launcher's start line asks of a GPU (the real calls would need a driver)
    from types import SimpleNamespace
    torch.cuda.get_device_properties = lambda i=0: SimpleNamespace(name="Fake GPU", major=9, minor=0, uuid=None)
    torch.cuda.get_device_capability = lambda i=0: (9, 0)
    torch.cuda.is_bf16_supported = lambda *a, **k: True
    _Popen = subprocess.Popen

    class _Recorded:
        """A worker that was asked for and exited at once (its run stays queued)."""

        def __init__(self, argv, env=None, **_kw):
            with open(os.environ["NAWT_TEST_LAUNCHES"], "a") as fh:
                fh.write(json.dumps({"argv": list(argv),
                                     "cuda_visible_devices": (env or {}).get("CUDA_VISIBLE_DEVICES")}) + "\n")
            self.pid, self.returncode = 0, 0

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

        def send_signal(self, _sig):
            pass

    def _popen(argv, *args, **kw):
        if isinstance(argv, (list, tuple)) and "nawt_cli" in argv and "worker" in argv:
            return _Recorded(argv, **kw)
        return _Popen(argv, *args, **kw)

    subprocess.Popen = _popen
