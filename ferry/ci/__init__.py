"""The CI build stage: build rules, detection, builds, and push notifications.

See :mod:`ferry.schema.builds` for the ``builds:`` configuration, :mod:`ferry.ci.cycle`
for the steps, and :mod:`ferry.ci.receiver` for the registry notification receiver.
"""
