"""lstm_ref: an exact reference for LSTM, BiLSTM, GRU and Elman RNN layers.

>>> import lstm_ref
>>> spec = lstm_ref.Spec("lstm", input_size=3, hidden_size=2)
>>> params = lstm_ref.random_params(spec, seed=0)
>>> inputs = lstm_ref.random_inputs(spec, steps=3, batch=2, seed=0)
>>> result = lstm_ref.forward(spec, params, inputs.x, inputs.h0, inputs.c0, digits=40)
>>> result.y.float64.shape
(3, 2, 2)
"""

from lstm_ref.checker import PROFILES, Report, check, check_results
from lstm_ref.exact import ForwardResult, Gradients, MPArray, backward, forward, precision
from lstm_ref.grid import on_grid, to_grid
from lstm_ref.inputs import Inputs, random_inputs, validate_inputs
from lstm_ref.params import Params, parameter_layout, random_params
from lstm_ref.spec import Activation, Spec, SpecError
from lstm_ref.version import __version__

__all__ = [
    "Activation",
    "PROFILES",
    "Report",
    "ForwardResult",
    "Gradients",
    "Inputs",
    "MPArray",
    "Params",
    "Spec",
    "SpecError",
    "backward",
    "check",
    "check_results",
    "forward",
    "on_grid",
    "parameter_layout",
    "precision",
    "random_inputs",
    "random_params",
    "to_grid",
    "validate_inputs",
    "__version__",
]
