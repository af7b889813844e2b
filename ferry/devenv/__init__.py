"""A local development environment: the seed's repos, registry and images on this machine.

Used by ``ferry demo``, the benchmarks and the end-to-end tests, so all three
run the same real services the same way.
"""
