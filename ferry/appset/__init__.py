"""Argo CD ApplicationSets, expanded into the Applications Argo CD would generate.

A pure core: :mod:`model` reads the manifest into frozen values, :mod:`generators` yields the
parameter sets, :mod:`render` and :mod:`gotemplate` render the template, :mod:`rollingsync` reads
``strategy: RollingSync`` as waves and :mod:`expand` puts them together. Files are read only
through :mod:`tree`, inside one checkout. The README's "ApplicationSets" section lists what differs
from Argo CD.
"""
