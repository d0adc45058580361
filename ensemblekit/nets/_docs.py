"""The parameters and fitted attributes the two nets share, written once for both
docstrings (``{criterion}``, ``{nonlin}`` and ``{chance}`` are filled per class)."""

_SHARED_PARAMS_DOC = """
    module : torch.nn.Module class or instance, default=MLP
        The network. Constructor arguments are given with the ``module__`` prefix, e.g.
        ``module__hidden_units=(64, 64)``, ``module__dropout=0.2``. If the module's
        constructor takes ``n_features``, ``n_outputs`` or ``random_state`` and they are not
        set, they are filled in from the data and the net's seed at fit time.
    criterion : torch loss class or instance, default={criterion}
        Built with ``reduction="none"`` when it accepts that argument, so that sample and
        class weights apply per row; further arguments via ``criterion__``.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Further arguments via ``optimizer__``, e.g. ``optimizer__weight_decay=1e-4``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Number of passes over the training data (the most, with early stopping).
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``-1`` uses all rows in one batch. ``"auto"`` trains on
        ``min(128, max(16, ceil(n_rows / 8)))`` rows a batch: at least 8 optimizer steps an
        epoch from 128 rows on, so a small table gets as many steps in ``max_epochs`` as a
        large one (128 rows a batch would give a table of 150 rows one step an epoch); it
        predicts 128 rows at a time.
    random_state : None, int or numpy.random.RandomState, default=None
        Fixes weight initialisation, shuffling, dropout masks and the early-stopping split.
        The same int gives bit-identical predictions in the main process and in any joblib
        worker, whatever random calls ran before. Custom modules that draw from torch's
        global generator are seeded through it, which is reproducible in processes but not
        between threads running side by side.
    n_threads : int or None, default=None
        torch intra-op threads while fitting and predicting. None: the engine's count,
        :func:`ensemblekit.engine.net_threads` (1); ``-1``: leave torch's setting alone;
        an int: that many. CPU matrix products round differently with different thread
        counts (a full-batch step, for one), so a count that does not depend on where the
        net trains is what makes a seed give bit-identical nets in the main process, in a
        joblib worker and under any ``n_jobs``; one thread per net also avoids
        oversubscription when nets train side by side. Small nets lose nothing (measured on
        2 cores: a 64-100-10 MLP on digits 1.28 s with 1 thread vs 1.23 s with 2); wide ones
        gain from more threads (512-512 MLP, 16k rows: 3.2 s vs 2.0 s), at the price of
        that reproducibility.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified for classifiers),
        stop when the validation loss has not improved by ``tol`` (relative) for
        ``n_iter_no_change`` epochs, and restore the best weights. Off by default: all
        training rows are used, as scikit-learn users expect. ``fit(X, y, X_val=...,
        y_val=..., sample_weight_val=...)`` monitors the rows given instead of a split of
        X; bagging hands each member its out-of-bag rows this way.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs. As in scikit-learn's ``MLPClassifier``, a
        net whose monitored loss (the validation loss with early stopping, else the
        training loss) improved by more than ``tol`` in one of its last
        ``n_iter_no_change`` epochs when ``max_epochs`` ran out has not converged, and
        ``fit`` gives a ``ConvergenceWarning``.
    tol : float, default=1e-4
        Improvement of the monitored loss that counts as progress, relative to its best
        so far (``MLPClassifier``'s is absolute; a relative one does not depend on the
        scale of the targets).
    callbacks : list of (name, callback) or None, default=None
        skorch callbacks, their parameters reachable as ``callbacks__name__param``.
    iterator_train : callable or None, default=None
        None slices batches straight out of tensors held on ``device`` (fast). A
        ``torch.utils.data.DataLoader``-like class is called as
        ``iterator_train(dataset, batch_size=..., sampler=..., **iterator_train__params)``
        and sees the same shuffled order for the same seed.
    predict_nonlinearity : "auto", callable or None, default="auto"
        Applied to the module's output at prediction. "auto" is {nonlin}.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights instead of starting anew.
    on_interrupt : {{"raise", "stop"}}, default="raise"
        What Ctrl-C (``KeyboardInterrupt``) during ``fit`` does. "raise": the fit stops and
        the interrupt reaches the caller, with the net left as it was before the call.
        "stop" is skorch's behaviour: training ends, the net keeps the weights it has
        and ``fit`` returns normally. Inside an ensemble an interrupt always raises: a
        member that stopped early would leave the ensemble half-trained.
    on_divergence : {{"warn", "raise"}}, default="warn"
        What a training loss that explodes but stays finite does: an epoch's loss above 10
        times the chance loss ({chance}). "warn": a :class:`DivergenceWarning` naming the
        epoch, the loss and ``lr``, once the fit ends. "raise": ``FloatingPointError`` at
        that epoch, as a NaN loss always raises, and the net is left as it was before the
        call. Inside an ensemble the members' warnings come as one, counting them.
    verbose : int, default=0
        1 prints skorch's table of epochs.
    device : str or torch.device, default="cpu"
        Where the module trains (``"cuda"`` for a GPU). Predictions always come back as
        numpy on the CPU, and a net fitted on a GPU unpickles on a machine without one.
    compile : bool, default=False
        Compile the module with ``torch.compile``.
    precision : {{"32-true", "bf16-mixed", "16-mixed"}}, default="32-true"
        Lightning's names. "bf16-mixed" and "16-mixed" run the forward pass and the loss
        under ``torch.autocast`` in bfloat16 or float16 (training, validation and
        prediction), while the weights and the optimizer's state stay float32;
        "16-mixed" scales the loss with a ``GradScaler`` against underflow. Both run on
        the CPU and on CUDA. TF32 matrix products follow torch's own setting
        (``torch.set_float32_matmul_precision``), which ensemblekit never changes.
    torch_load_kwargs : dict or None, default=None
        Passed to ``torch.load`` when unpickling.
    **kwargs
        Prefixed parameters: ``module__``, ``criterion__``, ``optimizer__``,
        ``iterator_train__``, ``callbacks__``.
"""

_FITTED_DOC = """
    n_features_in_ : int
        Number of features seen at fit.
    feature_names_in_ : ndarray of str
        Column names, when X was a DataFrame with string column names.
    n_outputs_ : int
        Width of the module's output.
    module_ : torch.nn.Module
        The trained module.
    history_ : skorch.History
        Per-epoch record; ``net.history[:, "train_loss"]``.
"""
