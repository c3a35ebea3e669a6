"""Admin panel forms (Flask-WTF, CSRF-protected)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("new_password",
                                                                                      "The two do not match.")])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST."""


class ConfirmForm(FlaskForm):
    """Only the CSRF token: confirming a service's details is a POST."""
