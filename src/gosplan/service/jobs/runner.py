"""(being written: placeholder so the app starts)"""


class JobRunner:
    def __init__(self, db, settings):
        self.db, self.settings = db, settings

    def start(self):
        pass

    def close(self):
        pass

    def describe(self):
        return {"scheduler": "in-process"}

    def submit(self, job_id):
        raise NotImplementedError

    def cancel(self, job_id):
        raise NotImplementedError
