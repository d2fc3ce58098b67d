"""What a training method is, without torch: the one place a method is described.

Every method has a ``MethodSpec``: its CLI name, display label and colour, one
line of help, the training options it uses (names in ``OPTIONS``, each with its
type, default, bounds and help) and its SAM schedule (rho per epoch). The CLI's
``--method`` help, ``TrainConfig.validate()``, ``nawt compare`` / export, the
figures and the TUI's new-run form all read it from here; the torch class that
trains a method lives in ``methods.py`` and is tied to its spec by name.

A new method (a plugin, or a sixth built-in):

    from nawt_core.spec import MethodSpec, register_method
    register_method(MethodSpec("my-method", "my method", "#8c564b", "what a step does",
                               options=("noise_eta",)), impl=MyMethod)

where ``MyMethod`` subclasses ``nawt_core.methods.Method``. ``impl`` may be
left out where the spec must be known before torch is imported (the TUI); the
class must then be registered (again, with ``impl``) before the method trains.
A plugin uses the existing ``OPTIONS`` (they are ``TrainConfig`` fields) and
reads them from ``self.cfg``; it cannot add new ones. Plugins are loaded by
``load_plugins()``, which the CLI calls at start-up, from ``NAWT_PLUGINS``:
comma-separated ``module`` or ``module:function`` entries (e.g.
``NAWT_PLUGINS=mypkg.nawt_method:register``); the module is imported and the
function, if named, called with no arguments to register its methods.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from .errors import NawtError
from .options import Option  # one Option for methods and evaluations


OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("rho", float, 0.05, "SAM neighbourhood radius (multistep-sam: the last stage's)", low=0),
    Option("rho_stages", list, [], "rho per stage, e.g. 0,0.025,0.05 (empty: 0 -> rho in equal stages)",
           low=0),
    Option("stages", int, 3, "stages from 0 to rho when no rho stages are given", low=1),
    Option("adaptive", bool, False, "ASAM: scale the ascent by |w| (variant: --asam)"),
    Option("asam", str, "davda54", "ASAM variant with --adaptive: davda54 (the common SAM repository's: every "
           "parameter, T = |w|) or kwon (the authors', Kwon et al. 2021: weights only, T = |w| + 0.01)",
           choices=("davda54", "kwon")),
    Option("ascent_steps", int, 1, "SAM ascent in k normalised steps of rho/k", low=1),
    Option("noise_sigma", float, 0.1, "std of the noise added to the weights after every epoch", low=0),
    Option("noise_last_epoch", bool, True, "add the noise after the last epoch too (the poster's reading, the "
           "default): final.pt and the sweeps then start from freshly noised weights; off: they start from the "
           "trained weights"),
    Option("noise_eta", float, 0.05, "per-batch noise std relative to max|W| per layer", low=0),
)}


def _sam_rho(cfg, epoch: int) -> float:
    return cfg.rho


def _staged_rho(cfg, epoch: int) -> float:
    stages = cfg.rho_schedule()
    return stages[min(epoch * len(stages) // cfg.epochs, len(stages) - 1)]


def _noise_at_end(cfg, epoch: int) -> bool:
    """naive-noise adds noise after every epoch, the last one unless --no-noise-last-epoch."""
    last = epoch == cfg.epochs - 1
    return cfg.noise_sigma > 0 and (not last or getattr(cfg, "noise_last_epoch", True))


@dataclass(frozen=True)
class MethodSpec:
    """A training method as the CLI, the store, the tables and the TUI see it."""

    name: str  # CLI name, e.g. "multistep-sam"
    label: str  # display label, e.g. "multi-step SAM"
    colour: str  # "#rrggbb", for matplotlib figures and the TUI plots
    help: str  # one line for --help and the TUI
    options: tuple[str, ...] = ()  # names in OPTIONS this method uses
    # rho in a 0-based epoch, from the TrainConfig; None: the method is not SAM
    rho: Callable[[Any, int], float] | None = None
    # whether the method changes the weights at the end of a 0-based epoch (after its steps, before the
    # evaluation and the checkpoint); None: never. The runner then evaluates the weights before and after.
    epoch_end: Callable[[Any, int], bool] | None = None
    epoch_end_label: str = ""  # what that change is, for the tables: "noise"
    # the cost class of a 0-based epoch (epochs of one class cost the same by design: cost.py);
    # None: passes per step, from the rho schedule and the ascent steps (one class for non-SAM methods)
    cost: Callable[[Any, int], str] | None = None

    def rho_at(self, cfg, epoch: int) -> float | None:
        """SAM neighbourhood in 0-based ``epoch`` (None: not a SAM method)."""
        return None if self.rho is None else self.rho(cfg, epoch)

    def changes_at_end(self, cfg, epoch: int) -> bool:
        """The method changes the weights after the steps of 0-based ``epoch`` (naive noise's noise)."""
        return self.epoch_end is not None and bool(self.epoch_end(cfg, epoch))

    def cost_class(self, cfg, epoch: int) -> str:
        """The cost class of 0-based ``epoch``: epochs of one class take the same work per step.
        By default the forward-backward passes per step: 1, or 1 + ascent steps where SAM's rho > 0."""
        if self.cost is not None:
            return str(self.cost(cfg, epoch))
        rho = self.rho_at(cfg, epoch)
        passes = 1 if not rho else 1 + int(getattr(cfg, "ascent_steps", 1) or 1)
        return f"{passes} pass" + ("es" if passes > 1 else "")


_METHODS: dict[str, MethodSpec] = {}
_IMPLS: dict[str, type] = {}  # name -> the torch class (methods.Method subclass), set by register_method
_BUILTIN: set[str] = set()  # the five methods nawt ships (filled below)


def register_method(spec: MethodSpec, impl: type | None = None) -> MethodSpec:
    """The public hook: make ``spec`` (and its torch class ``impl``) known everywhere."""
    unknown = [o for o in spec.options if o not in OPTIONS]
    if unknown:
        raise NawtError(f"method {spec.name!r} uses unknown options: {', '.join(unknown)}")
    if spec.name in _BUILTIN and _METHODS.get(spec.name) is not spec:  # (methods.py attaches the built-ins' classes)
        raise NawtError(f"method {spec.name!r} is built into nawt; a plugin must use another name")
    _METHODS[spec.name] = spec
    if impl is not None:
        _IMPLS[spec.name] = impl
    return spec


def unregister_method(name: str) -> None:
    """Forget a method (tests registering a throw-away one)."""
    _METHODS.pop(name, None)
    _IMPLS.pop(name, None)


def methods() -> tuple[MethodSpec, ...]:
    """Every registered method, in display order (built-ins first, then plugins as registered)."""
    return tuple(_METHODS.values())


def method_names() -> tuple[str, ...]:
    return tuple(_METHODS)


def method(name: str) -> MethodSpec:
    if name not in _METHODS:
        raise NawtError(f"unknown method {name!r}; choose one of: {', '.join(_METHODS)}")
    return _METHODS[name]


def impl(name: str) -> type | None:
    """The torch class registered for ``name`` (None until methods.py or a plugin registered it)."""
    return _IMPLS.get(name)


def uses(option_name: str) -> tuple[str, ...]:
    """Names of the methods that use an option."""
    return tuple(m.name for m in _METHODS.values() if option_name in m.options)


def order(name: str) -> int:
    """Sort key: display order, unknown names last."""
    names = method_names()
    return names.index(name) if name in names else len(names)


def colour(name: str) -> str | None:
    m = _METHODS.get(name)
    return m.colour if m else None


def load_plugins(entries: str | None = None) -> None:
    """Load ``NAWT_PLUGINS`` (or ``entries``): ``module`` or ``module:function``, comma-separated."""
    text = os.environ.get("NAWT_PLUGINS", "") if entries is None else entries
    for entry in filter(None, (e.strip() for e in text.split(","))):
        mod, _, func = entry.partition(":")
        try:  # whatever a plugin raises is one error line, never a traceback
            module = importlib.import_module(mod)
            hook = getattr(module, func) if func else None
            if hook is not None:
                hook()
        except NawtError as e:
            raise NawtError(f"cannot load plugin {entry!r} (NAWT_PLUGINS): {e}") from None
        except (ImportError, AttributeError) as e:
            raise NawtError(f"cannot load plugin {entry!r} (NAWT_PLUGINS): {e}") from None
        except Exception as e:  # noqa: BLE001 (a plugin's own bug)
            raise NawtError(f"cannot load plugin {entry!r} (NAWT_PLUGINS): {type(e).__name__}: {e}") from None


for _spec in (
    MethodSpec("standard", "standard", "#0072B2",
               "SGD, Nesterov momentum 0.9, lr 0.1, weight decay 5e-4: the baseline"),
    MethodSpec("naive-noise", "naive noise", "#D55E00",
               "the poster's method: after every epoch w += sigma * N(0,1) on each conv/linear weight",
               options=("noise_sigma", "noise_last_epoch"), epoch_end=_noise_at_end, epoch_end_label="noise"),
    MethodSpec("noise-injection", "noise injection", "#009E73",
               "per batch, noise eta * max|W_l| * N(0,1) per layer; the update goes to the clean weights",
               options=("noise_eta",)),
    MethodSpec("sam", "SAM", "#E69F00",
               "sharpness-aware minimisation: gradient at w + rho g/||g||, restore, step",
               options=("rho", "adaptive", "asam", "ascent_steps"), rho=_sam_rho),
    MethodSpec("multistep-sam", "multi-step SAM", "#CC79A7",
               "SAM whose rho grows in stages (default 0 -> rho in 3 equal stages)",
               options=("rho", "rho_stages", "stages", "adaptive", "asam", "ascent_steps"), rho=_staged_rho),
):
    register_method(_spec)
_BUILTIN.update(_METHODS)  # from here on, a plugin cannot replace them
del _spec

__all__ = ["OPTIONS", "MethodSpec", "Option", "colour", "impl", "load_plugins", "method", "method_names", "methods",
           "order", "register_method", "unregister_method", "uses"]
