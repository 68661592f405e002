"""The two-circles tutorial's script in plain Keras (BN after the ReLU), as its readers run it: the baseline
for a whole `python -m bnviz train` process (imports, data, model, fit, evaluate; no plots).

    time python bench/plain_circles.py                      # KERAS_BACKEND decides: TensorFlow by default
    time python -m bnviz train --preset seed001-circles-after --set training.backend=jax --out /tmp/r.json

The tutorial's code with Keras 3 names (`learning_rate` for `lr`, `keras.Input` for `input_dim`).
"""

# ruff: noqa: N816, UP031  (the tutorial's own names and print)
from keras.layers import BatchNormalization, Dense, Input
from keras.models import Sequential
from keras.optimizers import SGD
from sklearn.datasets import make_circles

# generate 2d classification dataset
X, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
# split into train and test
n_train = 500
trainX, testX = X[:n_train, :], X[n_train:, :]
trainy, testy = y[:n_train], y[n_train:]
# define model
model = Sequential()
model.add(Input(shape=(2,)))
model.add(Dense(50, activation="relu", kernel_initializer="he_uniform"))
model.add(BatchNormalization())
model.add(Dense(1, activation="sigmoid"))
opt = SGD(learning_rate=0.01, momentum=0.9)
model.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])
# fit model
history = model.fit(trainX, trainy, validation_data=(testX, testy), epochs=100, verbose=0)
# evaluate the model
_, train_acc = model.evaluate(trainX, trainy, verbose=0)
_, test_acc = model.evaluate(testX, testy, verbose=0)
print("Train: %.3f, Test: %.3f" % (train_acc, test_acc))
