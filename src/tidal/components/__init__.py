"""Tidal's built-in component library, one module per family.

Every module here is imported by the registry on first use; the components register
themselves with ``@component``. Import a module to call its components as functions::

    from tidal.components.data import split
"""
