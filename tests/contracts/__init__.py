"""The contract suite: a catalogue of every public routine and optimizer, and the tests
that feed each entry (OpInfo / OptimizerInfo style; issue 11).

Modules: ``entries`` (the array routines), ``optimizers`` (the optimizers), ``inputs``
(test matrices, views, the tolerance rule), ``contract`` (the checks every case ends in),
``reasons`` and ``known_failures.txt`` (the expected failures and their causes), and the
tests: ``test_functions``, ``test_scale``, ``test_optimizers``, ``test_settings``,
``test_fuzz`` (hypothesis) and ``test_catalogue`` (completeness, documented reasons).
Each test module states its sampling rule. ``docs/reliability.md`` lists each guarantee
with its test.
"""
