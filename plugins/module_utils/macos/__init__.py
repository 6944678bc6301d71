"""macOS engines: ``pmset`` settings, ``sharing`` share points, keychain internet passwords (``security``) and
iOS device backup freshness (each backup's Info.plist).

The command-line tools are reached through a ``run`` callable with AnsibleModule.run_command's signature
(``run(argv, data=None) -> (rc, stdout, stderr)``), so tests pass the stand-ins of tests/support/macos_standin
or a double. Output formats: ../shared/reference/apis/macos/ (pmset's print rules from Apple's source);
``sharing -l`` and ``security`` output have no Apple source and are reconstructed (see each engine).
"""
