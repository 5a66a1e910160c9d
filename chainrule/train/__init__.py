"""Training: the fit loop, evaluation, metrics, callbacks, plots and the learning-rate search.

>>> from chainrule.train import fit, evaluate
>>> history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
...               (X_train, y_train), epochs=10, batch_size=32, val_loader=(X_val, y_val))
>>> evaluate(model, (X_test, y_test), nn.CrossEntropyLoss())   # {'loss', 'loss_se', 'accuracy', 'n'}

spec: TRAIN-SGD-MODES, TRAIN-CURVES, TRAIN-LOOP-000, SGD-MINIBATCH, CV-RISK, CV-TEST-SET, METRIC-TOPK,
TRICK-LR-SEARCH, REG-EARLY-STOP, TRAIN-VAL-EARLYSTOP
"""

from . import bptt, callbacks, metrics, model_selection, plots
from .bptt import StepwiseHead, TBPTTResult, bptt_step, detach_state, truncated_bptt
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientNormLogger,
    JSONLogger,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
    StopAtTarget,
    TerminateOnNaN,
)
from .loop import History, TrainState, as_loader, clip_grad_norm_, evaluate, fit, per_sample_loss, predict
from .lr_search import DEFAULT_LR_GRID, LRSearchResult, lr_search
from .metrics import (
    accuracy,
    confusion_matrix,
    error_count,
    error_rate,
    mae,
    mse,
    r2,
    rmse,
    topk_accuracy,
)
from .model_selection import (
    CVResult,
    GridSearchCV,
    KFold,
    LeaveOneOut,
    ModuleEstimator,
    NestedCVResult,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    Scorer,
    StratifiedKFold,
    check_cv,
    complexity_curve,
    cross_val_predict,
    cross_val_score,
    get_scorer,
    make_scorer,
    nested_cross_val_score,
    register_backend,
    run_tasks,
    select_ridge_alpha,
    train_test_split,
    validation_curve,
)
from .plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, plot_misclassified

__all__ = [
    "fit", "evaluate", "predict", "History", "TrainState", "as_loader", "clip_grad_norm_", "per_sample_loss",
    "callbacks", "metrics", "plots", "Callback", "CSVLogger", "EarlyStopping", "GradientNormLogger",
    "JSONLogger", "LambdaCallback", "LRSchedulerCallback", "ModelCheckpoint", "ProgressBar", "StopAtTarget",
    "TerminateOnNaN",
    "lr_search", "LRSearchResult", "DEFAULT_LR_GRID", "accuracy", "confusion_matrix", "error_count",
    "error_rate", "mae", "mse", "r2", "rmse", "topk_accuracy", "plot_confusion_matrix", "plot_image_grid",
    "plot_learning_curves", "plot_misclassified", "model_selection", "CVResult", "GridSearchCV", "KFold",
    "LeaveOneOut", "ModuleEstimator", "NestedCVResult", "ParameterGrid", "ParameterSampler", "RandomizedSearchCV",
    "Scorer", "StratifiedKFold", "check_cv", "complexity_curve", "cross_val_predict", "cross_val_score",
    "get_scorer", "make_scorer", "nested_cross_val_score", "register_backend", "run_tasks", "select_ridge_alpha",
    "train_test_split", "validation_curve", "bptt", "StepwiseHead", "TBPTTResult", "bptt_step", "detach_state",
    "truncated_bptt",
]
