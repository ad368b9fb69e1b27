"""Only a build fix; the project is configured in pyproject.toml.

setuptools leaves ``data_files`` out of editable wheels (it asks the distribution for
``has_data``, which only the ``install`` command has), so ``pip install -e .`` would not
install ``etc/jupyter/jupyter_server_config.d/argosy.json``, the file that enables the Jupyter
server extension. This editable_wheel installs them as a regular wheel does.
"""

from setuptools import setup
from setuptools.command.editable_wheel import editable_wheel


class EditableWheel(editable_wheel):
    def _run_install(self, category: str) -> None:
        if category == "data":
            if self.distribution.has_data_files():
                self.run_command("install_data")
            return
        super()._run_install(category)


setup(cmdclass={"editable_wheel": EditableWheel})
