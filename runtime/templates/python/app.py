"""The {{name}} plugin: its exports are the world in wit/world.wit.

componentize-py generates `wit_world` from the world while it builds; for an
editor, `componentize-py --wit-path wit --world berth-plugins:{{name}}/{{name}} bindings .`
writes it here.
"""

import wit_world
from wit_world.imports.containers import Container


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        # A failed exec raises componentize_py_types.Err(Error), which becomes the result's error.
        return Container("busybox").with_exec(["echo", f"hello, {name}"]).stdout()
