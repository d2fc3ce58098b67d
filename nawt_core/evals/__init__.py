"""The built-in evaluations, one torch-free module each holding its ``SPEC`` (see nawt_core/evalspec.py).

Every module here is registered at first use, in ``SPEC.order``; its torch code
(the implementation named in the spec) lives beside the other torch modules.
"""
