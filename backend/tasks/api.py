"""Task endpoints: my tasks, tasks about a patient, task updates, giving a task to another coach."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.common.pagination import filters, paginate
from backend.common.schemas import ApiBlueprint
from backend.tasks import service
from backend.tasks.schemas import MyTasksQuerySchema, TaskAssignmentSchema, TaskSchema, TaskUpdateSchema

blp = ApiBlueprint("tasks", __name__, url_prefix="/api/v1", description="Tasks")


@blp.route("/me/tasks")
class MyTasks(MethodView):
    @api_action("list", "task")
    @blp.arguments(MyTasksQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, query):
        """Your tasks (open by default), soonest due first, with `overdue` flags."""
        items, headers = paginate(service.my_tasks(current_user, **filters(query)), query)
        return service.audit_task_list(current_user, items), 200, headers


@blp.route("/patients/<int:patient_id>/tasks")
class PatientTasks(MethodView):
    @api_action("create", "task", idempotent=True)
    @blp.arguments(TaskSchema)
    @blp.response(201, TaskSchema)
    def post(self, data, patient_id):
        """Create a task about a patient (for yourself; supervisors may assign staff)."""
        return service.create_task(current_user, patient_id, data), 201


@blp.route("/tasks/<int:task_id>")
class TaskItem(MethodView):
    @api_action("update", "task")
    @blp.arguments(TaskUpdateSchema)
    @blp.response(200, TaskSchema)
    def patch(self, changes, task_id):
        """Complete (`status: done`), cancel, reopen or reschedule a task."""
        return service.update_task(current_user, task_id, changes)


@blp.route("/tasks/<int:task_id>/assignment")
class TaskAssignment(MethodView):
    @api_action("reassign", "task")
    @blp.arguments(TaskAssignmentSchema)
    @blp.response(200, TaskSchema)
    def post(self, data, task_id):
        """Give an open task to another active coach of the programme (supervisors)."""
        return service.reassign_task(current_user, task_id, data["assignee_id"])
