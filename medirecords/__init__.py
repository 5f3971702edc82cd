"""A client library for the MediRecords API, and a sandbox server that speaks it.

Framework-free on purpose: nothing here imports Django, so the library could be published
on its own.
"""
