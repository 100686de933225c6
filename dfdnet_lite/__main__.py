"""`python -m dfdnet_lite` is the same as the `dfdnet-lite` command."""
from .cli import main

raise SystemExit(main())
