"""How a JSON-RPC method is declared: a typed method of a namespace, named once.

A namespace (``EthApi``, ``TxpoolApi``, ``PavmApi``, ...) marks its methods with
:func:`method`; :meth:`Namespace.methods` turns each into the dispatcher's
:data:`~common.rpc.dispatch.Handler`, reading the positional parameters from the
signature as go-ethereum does: too few or too many is invalid params ("missing
value for required argument N", "too many arguments, want at most N"); a parameter
with a default is optional (absent or ``null`` gives the default); each
``common/rpc/params.py`` type is parsed by its parser, named by the parameter
(``block_count`` is ``blockCount``, the spec's name).
"""

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from common.rpc.dispatch import Handler
from common.rpc.errors import invalid_params
from common.rpc.params import Parsed

F = TypeVar("F", bound=Callable[..., Any])
Offered = Callable[[Any], bool]
"""Whether a namespace offers a method: called with the namespace."""

_declared: dict[Callable[..., Any], tuple[str, Offered | None]] = {}
"""Functions marked by :func:`method`: their JSON-RPC name and condition."""


def method(name: str, when: Offered | None = None) -> Callable[[F], F]:
    """Mark a namespace's method as the JSON-RPC method ``name``; with ``when``, only
    offered where ``when(namespace)`` holds (``eth_sendRawTransaction`` needs a pool)."""

    def mark(function: F) -> F:
        _declared[function] = (name, when)
        return function

    return mark


class Namespace:
    """A group of JSON-RPC methods over what its constructor is given."""

    def methods(self) -> dict[str, Handler]:
        """This namespace's table: JSON-RPC name to handler."""
        table: dict[str, Handler] = {}
        for cls in reversed(type(self).__mro__):
            for attribute, value in vars(cls).items():
                function = value.__func__ if isinstance(value, staticmethod) else value
                declared = _declared.get(function)
                if declared is not None and (declared[1] is None or declared[1](self)):
                    table[declared[0]] = handler(getattr(self, attribute))
        return table


def table(*namespaces: Namespace) -> dict[str, Handler]:
    """The methods of ``namespaces``; a later one's method replaces an earlier one's
    of the same name (the dev namespace's ``eth_accounts`` has keys to list)."""
    out: dict[str, Handler] = {}
    for namespace in namespaces:
        out.update(namespace.methods())
    return out


def handler(function: Callable[..., Any]) -> Handler:
    """The dispatcher's handler for ``function`` (a method, or a partial of one),
    decoding its parameters by type."""
    parameters = [
        (_spec_name(p.name), _parser(p.annotation), p.default)
        for p in inspect.signature(function).parameters.values()
    ]
    required = sum(1 for _, _, default in parameters if default is inspect.Parameter.empty)
    most = len(parameters)

    def handle(params: list[Any]) -> Any:
        if len(params) < required:
            raise invalid_params(f"missing value for required argument {len(params)}")
        if len(params) > most:
            raise invalid_params(f"too many arguments, want at most {most}")
        args = []
        for index, (name, parse, default) in enumerate(parameters):
            value = params[index] if index < len(params) else None
            if value is None and default is not inspect.Parameter.empty:
                args.append(default)
            else:
                args.append(value if parse is None else parse(value, name))
        return function(*args)

    return handle


def _parser(hint: Any) -> Callable[[Any, str], Any] | None:
    if get_origin(hint) is Annotated:
        for meta in get_args(hint)[1:]:
            if isinstance(meta, Parsed):
                return meta.parse
    return None


def _spec_name(name: str) -> str:
    """``newest_block`` → ``newestBlock``: the name the spec gives a parameter."""
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)
