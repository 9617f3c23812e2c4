"""Generated Python modules of a plan (the `pytorch` and `torchrec` exports), imported from
files so that TorchScript and torch.compile can read their source."""

import sys


def load_export(plan, fmt):
    """The module `embplan export --format fmt` would write for `plan`, imported. The same
    text gives the same module (cached by its hash)."""
    # Imported here, not at the top: `import embplan` stays fast (tempfile alone costs 20 ms).
    import hashlib
    import importlib.util
    import os
    import tempfile

    text = plan.export(fmt)
    name = f"embplan_{fmt}_{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if name in sys.modules:
        return sys.modules[name]
    directory = os.path.join(tempfile.gettempdir(), f"embplan-exports-{os.getuid() if hasattr(os, 'getuid') else 0}")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name + ".py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".py")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
